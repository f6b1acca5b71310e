//! Mutations of real inputs: byte-level edits (flips, interesting values,
//! inserted, deleted and repeated runs, splices of two inputs) and
//! structure-aware ones (varints swapped for extreme values, a gzipped
//! input inflated, mutated and gzipped again, so mutations reach what the
//! decoder reads after its checksum).

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use rand::Rng;
use rand::rngs::StdRng;
use std::io::{Read, Write};

/// Values that often sit at boundaries of what a decoder expects.
const INTERESTING: [u8; 8] = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff, 0x0a];
/// Varints that are 0, 1, huge, and past every 32-bit count.
const VARINTS: [&[u8]; 5] = [
    &[0x00],
    &[0x01],
    &[0xff, 0xff, 0xff, 0xff, 0x0f],
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    &[0x80, 0x80, 0x80, 0x80, 0x08],
];
/// Inputs grow no larger than this.
const MAX_LEN: usize = 1 << 20;

/// A push request with one of its profiles (or a label) mutated: byte
/// edits of the request itself would mostly break the gzip checksums of
/// the profiles inside it.
pub fn mutate_push(rng: &mut StdRng, corpus: &[Vec<u8>]) -> Vec<u8> {
    use flarego_proto::push::v1::PushRequest;
    use prost::Message;
    let base = &corpus[rng.random_range(0..corpus.len())];
    let Ok(mut req) = PushRequest::decode(base.as_slice()) else {
        return mutate(rng, corpus);
    };
    if req.series.is_empty() || rng.random_bool(0.2) {
        return mutate(rng, corpus);
    }
    let si = rng.random_range(0..req.series.len());
    let s = &mut req.series[si];
    if rng.random_bool(0.2) && !s.labels.is_empty() {
        let li = rng.random_range(0..s.labels.len());
        let v = mutate(rng, &[s.labels[li].value.clone().into_bytes()]);
        s.labels[li].value = String::from_utf8_lossy(&v).into_owned();
    } else if !s.samples.is_empty() {
        let pi = rng.random_range(0..s.samples.len());
        let p = std::mem::take(&mut s.samples[pi].raw_profile);
        s.samples[pi].raw_profile = mutate(rng, &[p]);
    }
    req.encode_to_vec()
}

/// An agent chunk with one part mutated: a profile, a goroutine group
/// (its frames repeated many times, its state or count changed) or a
/// metric; or the encoded chunk itself.
pub fn mutate_chunk(rng: &mut StdRng, corpus: &[Vec<u8>]) -> Vec<u8> {
    use flarego_proto::agent::v1::Chunk;
    use prost::Message;
    let base = &corpus[rng.random_range(0..corpus.len())];
    let Ok(mut c) = Chunk::decode(base.as_slice()) else {
        return mutate(rng, corpus);
    };
    match rng.random_range(0..5) {
        0 if !c.profiles.is_empty() => {
            let i = rng.random_range(0..c.profiles.len());
            let p = std::mem::take(&mut c.profiles[i].pprof);
            c.profiles[i].pprof = mutate(rng, &[p]);
        }
        1 if !c.goroutines.is_empty() => {
            let i = rng.random_range(0..c.goroutines.len());
            let g = &mut c.goroutines[i];
            let times = [2, 100, 5000][rng.random_range(0..3)];
            g.frames = g
                .frames
                .iter()
                .cloned()
                .cycle()
                .take(g.frames.len() * times)
                .collect();
        }
        2 if !c.goroutines.is_empty() => {
            let i = rng.random_range(0..c.goroutines.len());
            c.goroutines[i].count = [0, 1, u64::MAX, 1 << 63][rng.random_range(0..4)];
            let st = mutate(rng, &[c.goroutines[i].state.clone().into_bytes()]);
            c.goroutines[i].state = String::from_utf8_lossy(&st).into_owned();
        }
        3 => {
            c.window_start_ns = [i64::MIN, -1, 0, i64::MAX][rng.random_range(0..4)];
            c.seq = rng.random();
        }
        _ => return mutate(rng, corpus),
    }
    c.encode_to_vec()
}

/// A new input from `corpus`, changed by one to four mutations.
pub fn mutate(rng: &mut StdRng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let base = &corpus[rng.random_range(0..corpus.len())];
    if base.len() > 2 && base[0] == 0x1f && base[1] == 0x8b && rng.random_bool(0.5) {
        // Mutate what is inside the gzip, then wrap it again.
        let mut inner = Vec::new();
        if MultiGzDecoder::new(base.as_slice())
            .take(MAX_LEN as u64)
            .read_to_end(&mut inner)
            .is_ok()
        {
            let changed = edit(rng, inner, corpus);
            let mut e = GzEncoder::new(Vec::new(), Compression::fast());
            if e.write_all(&changed).is_ok()
                && let Ok(gz) = e.finish()
            {
                return gz;
            }
        }
    }
    edit(rng, base.clone(), corpus)
}

fn edit(rng: &mut StdRng, mut data: Vec<u8>, corpus: &[Vec<u8>]) -> Vec<u8> {
    for _ in 0..rng.random_range(1..=4) {
        let len = data.len();
        match rng.random_range(0..9) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] = INTERESTING[rng.random_range(0..INTERESTING.len())];
            }
            2 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] = rng.random();
            }
            3 if len > 1 => {
                // Delete a run.
                let a = rng.random_range(0..len);
                let b = (a + rng.random_range(1..=len.min(64))).min(len);
                data.drain(a..b);
            }
            4 if len > 0 && len < MAX_LEN => {
                // Repeat a run, up to many times (counts blow up).
                let a = rng.random_range(0..len);
                let b = (a + rng.random_range(1..=len.min(32))).min(len);
                let run = data[a..b].to_vec();
                let times = [1, 2, 16, 1000][rng.random_range(0..4)];
                let at = rng.random_range(0..=len);
                let extra: Vec<u8> = run
                    .iter()
                    .copied()
                    .cycle()
                    .take(run.len() * times)
                    .collect();
                data.splice(at..at, extra.into_iter().take(MAX_LEN - len));
            }
            5 if len < MAX_LEN => {
                let at = rng.random_range(0..=len);
                let n = rng.random_range(1..=16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                data.splice(at..at, bytes);
            }
            6 => {
                // Splice: a prefix of this input, a suffix of another.
                let other = &corpus[rng.random_range(0..corpus.len())];
                let a = rng.random_range(0..=len);
                let b = rng.random_range(0..=other.len());
                data.truncate(a);
                data.extend_from_slice(&other[b..]);
            }
            7 if len > 0 => {
                // Swap a varint (a run ending in a byte < 0x80) for an extreme one.
                let i = rng.random_range(0..len);
                let mut end = i;
                while end < len && data[end] >= 0x80 {
                    end += 1;
                }
                let end = (end + 1).min(len);
                let v = VARINTS[rng.random_range(0..VARINTS.len())];
                data.splice(i..end, v.iter().copied());
            }
            8 if len > 0 => {
                data.truncate(rng.random_range(0..len));
            }
            _ => {}
        }
    }
    data.truncate(MAX_LEN);
    data
}
