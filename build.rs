// The migrations are embedded by `sqlx::migrate!`; rebuild when one is added or changed.
// The vendored design system (assets/dkfds/, refreshed by assets/refresh-dkfds.sh) is embedded
// as a table of files, each `include_bytes!`'d, so the binary serves it with nothing on disk.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=assets/dkfds");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/dkfds");
    let mut found = Vec::new();
    files(&root, &mut found);
    let version = std::fs::read_to_string(root.join("VERSION")).expect("assets/dkfds/VERSION");
    let mut table = format!(
        "/// The vendored DKFDS version (assets/dkfds/VERSION).\npub const VERSION: &str = {:?};\n\
         /// Every vendored file by its path under assets/dkfds/.\npub static FILES: &[(&str, &[u8])] = &[\n",
        version.trim()
    );
    for path in found {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if matches!(rel.as_str(), "VERSION" | "LICENSE.md") {
            continue;
        }
        writeln!(
            table,
            "    ({rel:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("dkfds.rs");
    std::fs::write(out, table).unwrap();
}
