//! This server's node id: its name in object paths and in the manifest
//! log. Kept in `<data_dir>/NODE_ID` from the first start, because the
//! WAL in that directory belongs to that node's manifest.

use crate::config::StorageConfig;
use crate::error::{Error, Result};

const FILE: &str = "NODE_ID";

/// The node id without creating one: the configured, else the saved.
pub fn configured_or_saved(config: &StorageConfig) -> Option<String> {
    config.node_id.clone().or_else(|| {
        std::fs::read_to_string(config.data_dir.join(FILE))
            .ok()
            .map(|s| s.trim().to_string())
    })
}

/// The node id: the one saved in the data directory, or the configured
/// one (which must then match), or a new random one saved for next time.
pub fn resolve(config: &StorageConfig) -> Result<String> {
    let path = config.data_dir.join(FILE);
    let saved = match std::fs::read_to_string(&path) {
        Ok(s) => Some(s.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(Error::DataDir { path, source }),
    };
    let id = match (saved, &config.node_id) {
        (Some(saved), Some(wanted)) if &saved != wanted => {
            return Err(Error::Format(format!(
                "--node-id {wanted:?} differs from {saved:?}, the node id this data directory was written under ({}); its WAL belongs to that node",
                path.display()
            )));
        }
        (Some(saved), _) => saved,
        (None, wanted) => {
            let id = wanted
                .clone()
                .unwrap_or_else(|| format!("n{:012x}", rand::random::<u64>() >> 16));
            crate::paths::check_node_id(&id).map_err(Error::Format)?;
            write_durably(&path, &id)?;
            id
        }
    };
    crate::paths::check_node_id(&id).map_err(Error::Format)?;
    Ok(id)
}

fn write_durably(path: &std::path::Path, id: &str) -> Result<()> {
    let err = |source| Error::DataDir {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{id}\n")).map_err(err)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_id_is_kept_and_a_different_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = StorageConfig {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let first = resolve(&config).unwrap();
        assert_eq!(resolve(&config).unwrap(), first);
        config.node_id = Some(first.clone());
        assert_eq!(resolve(&config).unwrap(), first);
        config.node_id = Some("other".into());
        let err = resolve(&config).unwrap_err().to_string();
        assert!(err.contains("\"other\"") && err.contains(&first), "{err}");
    }
}
