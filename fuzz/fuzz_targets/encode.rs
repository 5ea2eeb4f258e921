//! Arbitrary header lists through the action encoder: either refused, or
//! decoded back to the same headers (no injected header or action).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ami_proto::fuzzing::check_encode(data);
});
