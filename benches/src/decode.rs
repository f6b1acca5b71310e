//! CPU per profile in each step of decoding an ingest request: gunzip,
//! protobuf decode, and turning the profile into rows.

use crate::synth::Shape;
use flarego_ingest::Limits;
use flarego_ingest::decode::budget::MemoryCharge;
use flarego_ingest::decode::gzip::gunzip;
use flarego_ingest::decode::pprof::{ProfileContext, add_profile};
use flarego_ingest::decode::types::ProfileHint;
use flarego_ingest::decode::{Batcher, pprof_scan};
use flarego_proto::pprof::Profile;
use flarego_storage::{StackTable, TenantId};
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

pub fn run() -> anyhow::Result<()> {
    let shape = Shape::default();
    let pool = crate::synth::stack_pool(&shape);
    let bodies: Vec<Vec<u8>> = (0..100)
        .map(|w| crate::synth::window_profile(&pool, &shape, w, 0).0)
        .collect();
    let limits = Limits::default();
    let stacks = StackTable::default();
    let ctx = ProfileContext {
        tenant: TenantId::default_tenant(),
        service: "s".into(),
        instance: String::new(),
        labels: BTreeMap::new(),
        hint: ProfileHint::None,
        time_ns: Some(0),
        fallback_time_ns: 0,
        renames: HashMap::new(),
    };
    let rounds = 5;
    let (mut t_gz, mut t_scan, mut t_pb, mut t_rows) = (0.0, 0.0, 0.0, 0.0);
    let mut t_first = 0.0;
    for round in 0..rounds {
        for b in &bodies {
            let t = Instant::now();
            let mut charge = MemoryCharge::new(limits.max_request_memory_bytes, None);
            let raw = gunzip(b, "body", &limits, &mut charge)?;
            t_gz += t.elapsed().as_secs_f64();
            let t = Instant::now();
            pprof_scan::admit(&raw, "body", &limits, &mut charge)?;
            t_scan += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let p = Profile::decode(raw.as_slice())?;
            t_pb += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let mut out = Batcher::new(&stacks, &mut charge);
            add_profile(&p, None, &ctx, &limits, &mut out)?;
            let batch = out.finish(&limits, p.time_nanos)?;
            if round == 0 {
                // First sight of the stacks: frames are built; afterwards
                // the server knows them and only hashes.
                t_first += t.elapsed().as_secs_f64();
                stacks.insert_all(batch.stacks.iter().map(|(id, f)| (*id, f.as_ref())), false);
            } else {
                t_rows += t.elapsed().as_secs_f64();
            }
        }
    }
    let n = (rounds * bodies.len()) as f64;
    let n_later = ((rounds - 1) * bodies.len()) as f64;
    let n_first = bodies.len() as f64;
    println!("| step (one 55 KiB CPU profile, 1,500 samples) | µs |");
    println!("|---|---|");
    println!("| gunzip | {:.0} |", t_gz / n * 1e6);
    println!("| wire count and memory charge | {:.0} |", t_scan / n * 1e6);
    println!("| protobuf decode | {:.0} |", t_pb / n * 1e6);
    println!(
        "| rows, stacks seen for the first time | {:.0} |",
        t_first / n_first * 1e6
    );
    println!(
        "| rows, stacks already known | {:.0} |",
        t_rows / n_later * 1e6
    );
    println!(
        "| total, stacks already known | {:.0} |",
        (t_gz + t_scan + t_pb) / n * 1e6 + t_rows / n_later * 1e6
    );
    Ok(())
}
