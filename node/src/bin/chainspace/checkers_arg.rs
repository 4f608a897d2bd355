//! `--checkers native|python` of `keygen` and `up`: which checkers a generated network
//! uses. Python checkers need the repository (its `contracts/python/` and `python/src/`),
//! which a generated config names by absolute path, since the network's directory is
//! usually somewhere else (a temporary directory).

use std::path::PathBuf;

use anyhow::Context;
use chainspace_node::config::checkers::find_root;

/// Which checkers a generated network uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckersArg {
    /// Every contract checked by its Rust implementation, in the replica's process.
    #[default]
    Native,
    /// Contracts with a Python version (contracts/python/<id>.py) checked by it, in a
    /// process per replica; the others natively.
    Python,
}

impl CheckersArg {
    /// The repository to take Python checkers from, for `--checkers python`.
    pub fn python_root(self) -> anyhow::Result<Option<PathBuf>> {
        if self == CheckersArg::Native {
            return Ok(None);
        }
        repository().map(Some)
    }
}

/// The repository: around the working directory, else around this executable (a
/// `target/` inside a checkout), else where this binary was built from.
fn repository() -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().ok();
    let exe = std::env::current_exe().ok().and_then(|e| e.parent().map(PathBuf::from));
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from);
    [cwd, exe, built].into_iter().flatten().find_map(|dir| find_root(&dir)).context(
        "--checkers python: no Chainspace repository (contracts/python/ and python/src/) \
             around the working directory; run from inside the checkout",
    )
}
