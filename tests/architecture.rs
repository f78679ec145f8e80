//! The hexagon holds: nothing under `src/domain/` uses an I/O crate.

use std::path::{Path, PathBuf};

const FORBIDDEN: &[&str] = &[
    "poem",
    "sea_orm",
    "sqlx",
    "fred",
    "reqwest",
    "jsonwebtoken",
    "tokio::net",
    "tokio::fs",
    "std::fs",
    "std::net",
    "hyper",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn domain_imports_no_io_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![root.join("domain.rs")];
    rust_files(&root.join("domain"), &mut files);
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable file");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for krate in FORBIDDEN {
                let used = code.contains(&format!("{krate}::"))
                    || code.contains(&format!("use {krate};"))
                    || code.contains(&format!("{krate}!"));
                if used {
                    offences.push(format!("{}:{}: uses {krate}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "domain/ must stay free of I/O:\n{}",
        offences.join("\n")
    );
}
