//! Runs the fuzz targets' bodies over the seed corpus in `fuzz/corpus/`,
//! so CI checks the same invariants without a fuzzer. A real fuzzing run:
//! `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run decode`.

use std::path::Path;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz-corpus")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_string_lossy().into_owned();
            Some((name, std::fs::read(e.path()).ok()?))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn decode_target_over_seed_corpus() {
    let seeds = seeds("decode");
    assert!(seeds.len() >= 16, "seed corpus is missing: {}", seeds.len());
    for (name, data) in seeds {
        // The byte-by-byte pass is quadratic in nothing but still slow on
        // big seeds in debug builds; cap the size fed.
        let data = &data[..data.len().min(48 * 1024)];
        eprintln!("seed {name}: {} bytes", data.len());
        ami_proto::fuzzing::check_decode_thoroughly(data);
    }
}

#[test]
fn encode_target_over_seed_corpus() {
    let seeds = seeds("encode");
    assert!(!seeds.is_empty());
    for (_, data) in seeds {
        ami_proto::fuzzing::check_encode(&data);
    }
}
