//! Arbitrary bytes in arbitrary chunks through the decoder; see
//! `ami_proto::fuzzing::check_decode` for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ami_proto::fuzzing::check_decode(data);
});
