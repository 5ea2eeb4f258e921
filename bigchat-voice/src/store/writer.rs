//! Background writer (in progress).
