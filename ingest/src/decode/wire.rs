//! A protobuf wire-format scanner: counts what a message holds without
//! allocating it, so a request is measured against its limits before
//! `prost` builds it (an empty repeated message is 2 bytes on the wire
//! and dozens in memory).

/// One field's value, borrowed from the buffer.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32,
}

/// Iterates the fields of one message: `(field number, value)`.
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// Nested groups (a deprecated wire type) are skipped up to this depth.
const MAX_GROUP_DEPTH: usize = 32;

impl<'a> Fields<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Fields { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| format!("truncated varint at byte {}", self.pos))?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(format!("varint overflows 64 bits at byte {}", self.pos));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("varint longer than 10 bytes at byte {}", self.pos))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| format!("field of {n} bytes runs past the end at byte {}", self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Skips a group up to its end tag.
    fn skip_group(&mut self, field: u32, depth: usize) -> Result<(), String> {
        if depth > MAX_GROUP_DEPTH {
            return Err("groups nested too deep".into());
        }
        loop {
            if self.pos >= self.buf.len() {
                return Err("unterminated group".into());
            }
            let key = self.varint()?;
            let (f, wt) = ((key >> 3) as u32, key & 7);
            match wt {
                0 => {
                    self.varint()?;
                }
                1 => {
                    self.take(8)?;
                }
                2 => {
                    let n = self.varint()?;
                    self.take(usize::try_from(n).map_err(|_| "length overflows")?)?;
                }
                3 => self.skip_group(f, depth + 1)?,
                4 if f == field => return Ok(()),
                5 => {
                    self.take(4)?;
                }
                _ => return Err(format!("invalid wire type {wt} in a group")),
            }
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.pos >= self.buf.len() {
                return None;
            }
            let r = (|| {
                let key = self.varint()?;
                let (field, wt) = ((key >> 3) as u32, key & 7);
                if field == 0 {
                    return Err("field number 0".to_string());
                }
                Ok(Some(match wt {
                    0 => (field, Value::Varint(self.varint()?)),
                    1 => {
                        self.take(8)?;
                        (field, Value::Fixed64)
                    }
                    2 => {
                        let n = self.varint()?;
                        let n = usize::try_from(n).map_err(|_| "length overflows".to_string())?;
                        (field, Value::Bytes(self.take(n)?))
                    }
                    3 => {
                        self.skip_group(field, 1)?;
                        return Ok(None);
                    }
                    5 => {
                        self.take(4)?;
                        (field, Value::Fixed32)
                    }
                    other => return Err(format!("invalid wire type {other}")),
                }))
            })();
            match r {
                Ok(Some(v)) => return Some(Ok(v)),
                Ok(None) => continue,
                Err(e) => {
                    self.pos = self.buf.len();
                    return Some(Err(e));
                }
            }
        }
    }
}

/// How many values a repeated scalar field adds: a packed run (bytes)
/// holds one per varint (or per fixed width), an unpacked one holds one.
pub fn scalar_count(v: Value<'_>, fixed_width: Option<usize>) -> usize {
    match (v, fixed_width) {
        (Value::Bytes(b), Some(w)) => b.len() / w,
        (Value::Bytes(b), None) => b.iter().filter(|x| **x < 0x80).count(),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn counts_packed_and_unpacked_fields_like_prost_reads_them() {
        let p = flarego_proto::pprof::Sample {
            location_id: vec![1, 300, 70_000],
            value: vec![-1, 5],
            label: vec![Default::default(), Default::default()],
        };
        let bytes = p.encode_to_vec();
        let (mut locs, mut values, mut labels) = (0, 0, 0);
        for f in Fields::new(&bytes) {
            let (n, v) = f.unwrap();
            match n {
                1 => locs += scalar_count(v, None),
                2 => values += scalar_count(v, None),
                3 => labels += 1,
                _ => {}
            }
        }
        assert_eq!((locs, values, labels), (3, 2, 2));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [&[0x0a, 0x05, 1][..], &[0xff; 11], &[0x08], &[0x0b, 0x08]] {
            assert!(Fields::new(bad).any(|f| f.is_err()), "{bad:?}");
        }
    }
}
