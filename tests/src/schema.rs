//! JSON Schema validation of `.fgo` documents against
//! `docs/fgo.schema.json`, by Python's `jsonschema` (draft 2020-12, with
//! format checks).

use anyhow::{Context, bail};
use std::io::Write;
use std::process::{Command, Stdio};

const CHECK: &str = r#"
import json, sys
try:
    import jsonschema
except ImportError:
    sys.exit("the Python module jsonschema is missing: pip install jsonschema (scripts/test.sh installs it)")
schema = json.load(open(sys.argv[1]))
doc = json.load(sys.stdin)
v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
for e in errors[:5]:
    print(list(e.path), e.message, file=sys.stderr)
sys.exit(1 if errors else 0)
"#;

/// Fails with the schema's complaints unless `json` is a valid `.fgo`
/// document.
pub fn validate_fgo(json: &[u8]) -> anyhow::Result<()> {
    let schema = crate::repo_root().join("docs/fgo.schema.json");
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(CHECK)
        .arg(&schema)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running python3 (apt-get install python3)")?;
    child
        .stdin
        .take()
        .context("python3 stdin")?
        .write_all(json)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "not a valid .fgo document: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
