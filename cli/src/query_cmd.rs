//! `flarego query "SQL"`: posts to `/api/v1/query` (or, with `--grpc`,
//! calls `QueryService/Sql` and reads its Arrow IPC stream) and prints the
//! answer as an aligned table, JSON or CSV.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde_json::Value;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Flags of `flarego query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQL statement (read-only).
    sql: String,
    /// Server to ask.
    #[arg(long, env = "FLAREGO_SERVER", default_value = "http://127.0.0.1:4040")]
    server: String,
    /// Output format.
    #[arg(long, env = "FLAREGO_FORMAT", value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Tenant to query (sent as X-Scope-OrgID).
    #[arg(long, env = "FLAREGO_TENANT")]
    tenant: Option<String>,
    /// Bearer token (servers with `--auth jwt`).
    #[arg(long, env = "FLAREGO_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Ask the gRPC listener instead (e.g. http://127.0.0.1:4041), which
    /// streams the result as Arrow IPC.
    #[arg(long, env = "FLAREGO_GRPC")]
    grpc: Option<String>,
}

pub async fn run(args: QueryArgs) -> anyhow::Result<()> {
    let body = match &args.grpc {
        Some(addr) => over_grpc(addr, &args).await?,
        None => over_http(&args).await?,
    };
    let out = match args.format {
        Format::Json => serde_json::to_string_pretty(&body)?,
        Format::Csv => render_csv(&body),
        Format::Table => render_table(&body),
    };
    println!("{out}");
    for w in body["warnings"].as_array().into_iter().flatten() {
        eprintln!("warning: {}", w.as_str().unwrap_or_default());
    }
    Ok(())
}

/// The answer over gRPC, as the JSON the HTTP API gives.
async fn over_grpc(addr: &str, args: &QueryArgs) -> anyhow::Result<Value> {
    use flarego_proto::flarego::query::v1::SqlRequest;
    use flarego_proto::flarego::query::v1::query_service_client::QueryServiceClient;
    let mut client = QueryServiceClient::connect(addr.to_string())
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let mut req = tonic::Request::new(SqlRequest {
        sql: args.sql.clone(),
        tenant: String::new(),
    });
    if let Some(t) = &args.tenant {
        req.metadata_mut().insert("x-scope-orgid", t.parse()?);
    }
    if let Some(t) = &args.token {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse()?);
    }
    let mut stream = client
        .sql(req)
        .await
        .map_err(|s| anyhow::anyhow!("{:?}: {}", s.code(), s.message()))?
        .into_inner();
    let mut ipc = Vec::new();
    while let Some(m) = stream
        .message()
        .await
        .map_err(|s| anyhow::anyhow!("{:?}: {}", s.code(), s.message()))?
    {
        ipc.extend_from_slice(&m.arrow_ipc);
    }
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(ipc), None)
        .context("reading the Arrow IPC stream")?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    let out = flarego_query::QueryOutput {
        schema,
        batches,
        warnings: Vec::new(),
    };
    Ok(flarego_query::output::to_json(&out)?)
}

async fn over_http(args: &QueryArgs) -> anyhow::Result<Value> {
    let url = format!("{}/api/v1/query", args.server.trim_end_matches('/'));
    let mut req = reqwest::Client::new()
        .post(&url)
        .json(&serde_json::json!({"sql": args.sql}));
    if let Some(t) = &args.tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    if let Some(t) = &args.token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let body: Value = resp.json().await.context("reading the answer")?;
    if !status.is_success() {
        let msg = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown error");
        bail!("{status}: {msg}");
    }
    Ok(body)
}

fn names(body: &Value) -> Vec<String> {
    body["columns"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| c["name"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn rows(body: &Value) -> Vec<Vec<String>> {
    body["rows"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|row| {
                    row.as_array()
                        .map(|c| c.iter().map(cell).collect())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An aligned text table with a row count.
pub fn render_table(body: &Value) -> String {
    let names = names(body);
    let rows = rows(body);
    let mut width: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = width.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = width.get(i).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(" | ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(&names)];
    out.push(
        width
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-"),
    );
    out.extend(rows.iter().map(|r| line(r)));
    out.push(format!(
        "({} row{})",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    ));
    out.join("\n")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// RFC 4180 CSV with a header line.
pub fn render_csv(body: &Value) -> String {
    let mut out = vec![
        names(body)
            .iter()
            .map(|s| csv_field(s))
            .collect::<Vec<_>>()
            .join(","),
    ];
    for r in rows(body) {
        out.push(r.iter().map(|s| csv_field(s)).collect::<Vec<_>>().join(","));
    }
    out.join("\n")
}
