//! Connect unary calls as Pyroscope's clients make them, and flame
//! graphs decoded back into (frame path, total, self) nodes, for the
//! Pyroscope read API tests.

use crate::server::TestServer;
use prost::Message;
use serde_json::Value;
use std::io::Read;

/// The body of a response, inflated when gzipped.
pub async fn body_of(r: reqwest::Response) -> (u16, String, Vec<u8>) {
    let status = r.status().as_u16();
    let gzipped = r
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let raw = r.bytes().await.unwrap().to_vec();
    if !gzipped {
        return (status, ct, raw);
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .unwrap();
    (status, ct, out)
}

/// A call as connect-go makes it: binary proto, gzip accepted.
pub async fn call<Resp: Message + Default>(s: &TestServer, path: &str, req: &impl Message) -> Resp {
    let r = s
        .client()
        .post(format!("{}/{path}", s.url))
        .header("content-type", "application/proto")
        .header("connect-protocol-version", "1")
        .header("accept-encoding", "gzip")
        .header("user-agent", "connect-go/1.18.1 (go1.24.0)")
        .body(req.encode_to_vec())
        .send()
        .await
        .unwrap();
    let (status, ct, body) = body_of(r).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    assert_eq!(ct, "application/proto", "{path}");
    Resp::decode(&body[..]).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A call as the drilldown app makes it: JSON.
pub async fn call_json(s: &TestServer, path: &str, req: Value) -> (u16, Value) {
    let r = s
        .client()
        .post(format!("{}/{path}", s.url))
        .header("content-type", "application/json")
        .header("accept", "application/json; allow-utf8-labelnames=true")
        .json(&req)
        .send()
        .await
        .unwrap();
    let (status, _, body) = body_of(r).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// (frame path, total, self) of every node, from Pyroscope's levels.
pub fn nodes_of_levels(
    names: &[String],
    levels: &[Vec<i64>],
    width: usize,
) -> Vec<(String, i64, i64)> {
    let mut out = Vec::new();
    let mut above: Vec<(i64, i64, String)> = Vec::new();
    for level in levels {
        let mut here = Vec::new();
        let mut x = 0i64;
        for n in level.chunks(width) {
            x += n[0];
            let name = &names[n[width - 1] as usize];
            let parent = above
                .iter()
                .find(|(px, pt, _)| *px <= x && x + n[1] <= px + pt);
            let path = match parent {
                Some((_, _, p)) => format!("{p};{name}"),
                None => name.clone(),
            };
            out.push((path.clone(), n[1], n[2]));
            here.push((x, n[1], path));
            x += n[1];
        }
        above = here;
    }
    out.sort();
    out
}

/// (frame path, total, self) of every node of `/api/v1/flamegraph`.
pub fn nodes_of_read_api(fg: &Value) -> Vec<(String, i64, i64)> {
    let tree = &fg["tree"];
    let scale = tree["scale"].as_i64().unwrap();
    let names: Vec<&str> = tree["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let mut path: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for (i, n) in tree["name"].as_array().unwrap().iter().enumerate() {
        let depth = tree["depth"][i].as_u64().unwrap() as usize;
        path.truncate(depth);
        path.push(names[n.as_u64().unwrap() as usize]);
        out.push((
            path.join(";"),
            tree["total"][i].as_i64().unwrap() * scale,
            tree["self"][i].as_i64().unwrap() * scale,
        ));
    }
    out.sort();
    out
}
