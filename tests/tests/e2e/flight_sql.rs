//! Arrow Flight SQL through ADBC's Flight SQL driver (Python
//! `adbc-driver-flightsql`, as notebooks and BI tools use it) and
//! `pyarrow.flight` (handshake, GetFlightInfo, DoGet by hand): the same
//! rows as `/api/v1/query` for the same token, only the token's tenant,
//! catalog browsing and server info, basic-auth handshake, and refusals
//! with the right status (a writing statement, an expired token).

use flarego_ingest::auth::Role;
use flarego_tests::auth::{Keys, SECRET, claims, hs256};
use flarego_tests::server::TestServer;
use serde_json::{Value, json};
use std::process::Command;

const SCRIPT: &str = r#"
import json, sys, warnings
warnings.simplefilter("ignore")
try:
    import adbc_driver_flightsql.dbapi as flightsql
except ImportError:
    sys.exit("python3 module adbc-driver-flightsql missing: pip install adbc-driver-flightsql adbc-driver-manager pyarrow (scripts/test.sh installs them)")
uri, token, expired, sql = sys.argv[1:5]
out = {}
def connect(**kwargs):
    return flightsql.connect(uri, db_kwargs=kwargs)
with connect(**{"adbc.flight.sql.authorization_header": "Bearer " + token}) as conn:
    cur = conn.cursor()
    cur.execute(sql)
    out["rows"] = [list(r) for r in cur.fetchall()]
    cur.adbc_prepare(sql)
    cur.execute(sql)
    out["prepared"] = [list(r) for r in cur.fetchall()]
    objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
    out["tables"] = {
        t["table_name"]: [c["column_name"] for c in (t["table_columns"] or [])]
        for cat in objects for s in cat["catalog_db_schemas"] for t in s["db_schema_tables"]
    }
    out["info"] = {k: v for k, v in conn.adbc_get_info().items() if k.startswith("vendor")}
    try:
        cur.execute("CREATE TABLE copy AS SELECT * FROM profiles")
        out["write"] = "accepted"
    except Exception as e:
        out["write"] = str(e)
# Handshake: basic auth, the token as the password.
with connect(username="flarego", password=token) as conn:
    cur = conn.cursor()
    cur.execute(sql)
    out["handshake_rows"] = [list(r) for r in cur.fetchall()]
# pyarrow.flight, speaking Flight SQL by hand: a CommandStatementQuery
# packed in an Any as the descriptor, the ticket back to DoGet.
import pyarrow.flight as fl
def field(number, payload):
    key, n, out = (number << 3) | 2, len(payload), b""
    head = bytes([key])
    while True:
        b, n = n & 0x7F, n >> 7
        head += bytes([b | (0x80 if n else 0)])
        if not n:
            return head + payload
command = field(1, b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery") + field(2, field(1, sql.encode()))
client = fl.FlightClient(uri)
bearer = client.authenticate_basic_token(b"flarego", token.encode())
options = fl.FlightCallOptions(headers=[bearer])
info = client.get_flight_info(fl.FlightDescriptor.for_command(command), options)
table = client.do_get(info.endpoints[0].ticket, options).read_all()
out["pyarrow_rows"] = [list(r.values()) for r in table.to_pylist()]
unknown = field(1, b"type.googleapis.com/arrow.flight.protocol.sql.CommandNoSuchThing") + field(2, b"")
try:
    client.get_flight_info(fl.FlightDescriptor.for_command(unknown), options)
    out["unknown"] = "accepted"
except Exception as e:
    out["unknown"] = type(e).__name__ + ": " + str(e)
try:
    with connect(**{"adbc.flight.sql.authorization_header": "Bearer " + expired}) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        cur.fetchall()
        out["expired"] = "accepted"
except Exception as e:
    out["expired"] = str(e)
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adbc_reads_what_the_query_api_reads_within_the_tokens_tenant() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = Keys::create(tmp.path()).unwrap();
    let flags = keys.hs256_server_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let s = TestServer::start(&tmp.path().join("data"), &flags)
        .await
        .unwrap();
    let token = |tenant: &str, role| hs256(&claims(tenant, role), SECRET.as_bytes()).unwrap();
    for (tenant, service, body) in [
        ("acme", "checkout", "main;pay 30\nmain;render 20\n"),
        ("globex", "secret", "main;hidden 99\n"),
    ] {
        let r = s
            .client()
            .post(format!("{}/ingest?name={service}.cpu&format=folded", s.url))
            .bearer_auth(token(tenant, Role::Agent))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let reader = token("acme", Role::Reader);
    let mut old = claims("acme", Role::Reader);
    old.exp = flarego_tests::auth::now() - 600;
    old.iat = Some(old.exp - 3600);
    old.nbf = old.iat;
    let expired = hs256(&old, SECRET.as_bytes()).unwrap();
    let sql = "SELECT service, array_to_string(frames, ';') AS stack, CAST(sum(value) AS BIGINT) AS v \
               FROM profiles GROUP BY 1, 2 ORDER BY 1, 2";

    let out = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(format!(
            "grpc://{}",
            s.grpc_url.trim_start_matches("http://")
        ))
        .arg(&reader)
        .arg(&expired)
        .arg(sql)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "ADBC script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();

    // The same rows as /api/v1/query for the same token.
    let r = s
        .client()
        .post(format!("{}/api/v1/query", s.url))
        .bearer_auth(&reader)
        .json(&json!({"sql": sql}))
        .send()
        .await
        .unwrap();
    let api: Value = r.json().await.unwrap();
    assert_eq!(got["rows"], api["rows"], "{got} vs {api}");
    assert_eq!(
        got["rows"],
        json!([
            ["checkout", "main;pay", 300_000_000],
            ["checkout", "main;render", 200_000_000]
        ]),
        "acme's rows only"
    );
    assert_eq!(got["prepared"], got["rows"]);
    assert_eq!(got["handshake_rows"], got["rows"]);
    assert_eq!(got["pyarrow_rows"], got["rows"]);
    let tables = &got["tables"];
    assert!(
        tables["profiles"]
            .as_array()
            .unwrap()
            .contains(&json!("frames")),
        "{tables}"
    );
    assert!(tables["metrics"].is_array(), "{tables}");
    assert_eq!(got["info"]["vendor_name"], "FlareGo");
    let write = got["write"].as_str().unwrap();
    assert!(
        write.contains("INVALID_ARGUMENT") && write.contains("only read-only queries are allowed"),
        "{write}"
    );
    let unknown = got["unknown"].as_str().unwrap();
    assert!(
        unknown.contains("unimplemented") && unknown.contains("CommandNoSuchThing"),
        "{unknown}"
    );
    let exp = got["expired"].as_str().unwrap();
    assert!(exp.contains("UNAUTHENTICATED"), "{exp}");
}
