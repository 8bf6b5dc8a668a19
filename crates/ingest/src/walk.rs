//! The files behind the paths given on the command line (an I/O edge).
//! Directories are walked recursively in sorted order; hidden entries and
//! a maildir's `tmp/` (messages still being delivered) are skipped;
//! symbolic links to directories are not followed (no loops).

use std::path::{Path, PathBuf};

/// Every file under `paths`, in order; unreadable directories are returned
/// as errors next to the files found.
pub fn files(paths: &[PathBuf]) -> Vec<Result<PathBuf, (PathBuf, std::io::Error)>> {
    let mut out = Vec::new();
    for path in paths {
        visit(path, true, &mut out);
    }
    out
}

fn visit(path: &Path, top: bool, out: &mut Vec<Result<PathBuf, (PathBuf, std::io::Error)>>) {
    let meta = if top {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    };
    match meta {
        Ok(m) if m.is_dir() => {
            let is_maildir = path.join("cur").is_dir() && path.join("new").is_dir();
            let mut entries = match std::fs::read_dir(path) {
                Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect::<Vec<_>>(),
                Err(e) => return out.push(Err((path.to_path_buf(), e))),
            };
            entries.sort();
            for entry in entries {
                let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                if name.starts_with('.') || (is_maildir && name == "tmp") {
                    continue;
                }
                visit(&entry, false, out);
            }
        }
        Ok(m) if m.is_file() => out.push(Ok(path.to_path_buf())),
        Ok(_) => {}
        Err(e) => out.push(Err((path.to_path_buf(), e))),
    }
}
