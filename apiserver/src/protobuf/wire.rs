//! The protobuf wire format, just enough to walk a message: tags, varints, fixed-width
//! values and length-delimited payloads. Every read is bounds-checked; nothing panics on input.

/// One field's payload as it appears on the wire.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl Wire<'_> {
    pub fn type_name(&self) -> &'static str {
        match self {
            Wire::Varint(_) => "varint",
            Wire::Fixed64(_) => "fixed64",
            Wire::Bytes(_) => "length-delimited",
            Wire::Fixed32(_) => "fixed32",
        }
    }
}

/// Reads fields (or packed values) from a byte slice in order.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn varint(&mut self) -> Result<u64, String> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err("truncated varint".into());
            };
            self.pos += 1;
            // The tenth byte may only carry the 64th bit.
            if i == 9 && b > 1 {
                return Err("varint overflows 64 bits".into());
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let left = self.buf.len() - self.pos;
        if n > left {
            return Err(format!("truncated {what}: needs {n} bytes, {left} left"));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn fixed64(&mut self) -> Result<u64, String> {
        let b = self.take(8, "fixed64")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub fn fixed32(&mut self) -> Result<u32, String> {
        let b = self.take(4, "fixed32")?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    /// The next field as (field number, payload), or None at the end of the buffer.
    pub fn field(&mut self) -> Result<Option<(u32, Wire<'a>)>, String> {
        if self.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 || number > (1 << 29) - 1 {
            return Err(format!("invalid field number {number}"));
        }
        let number = number as u32;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::Fixed64(self.fixed64()?),
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len)
                    .map_err(|_| format!("field {number}: length {len} too large"))?;
                Wire::Bytes(self.take(len, "length-delimited field")?)
            }
            5 => Wire::Fixed32(self.fixed32()?),
            // Kubernetes messages never use groups (wire types 3 and 4).
            t => return Err(format!("field {number}: unsupported wire type {t}")),
        };
        Ok(Some((number, wire)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(Reader::new(&[0x00]).varint(), Ok(0));
        assert_eq!(Reader::new(&[0xac, 0x02]).varint(), Ok(300));
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Reader::new(&max).varint(), Ok(u64::MAX));
        assert!(Reader::new(&[0x80, 0x80]).varint().is_err());
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(Reader::new(&over).varint().is_err());
        assert!(Reader::new(&[0xff; 11]).varint().is_err());
    }

    #[test]
    fn fields() {
        // 1: varint 150, 2: "hi", 3: fixed64 1, 4: fixed32 2
        let buf = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x19, 1, 0, 0, 0, 0, 0, 0, 0, 0x25, 2, 0, 0,
            0,
        ];
        let mut r = Reader::new(&buf);
        assert_eq!(r.field(), Ok(Some((1, Wire::Varint(150)))));
        assert_eq!(r.field(), Ok(Some((2, Wire::Bytes(b"hi")))));
        assert_eq!(r.field(), Ok(Some((3, Wire::Fixed64(1)))));
        assert_eq!(r.field(), Ok(Some((4, Wire::Fixed32(2)))));
        assert_eq!(r.field(), Ok(None));
    }

    #[test]
    fn malformed_fields() {
        // length 5 with 2 bytes left
        assert!(Reader::new(&[0x12, 0x05, b'a', b'b']).field().is_err());
        // field number 0
        assert!(Reader::new(&[0x00, 0x01]).field().is_err());
        // group start
        assert!(Reader::new(&[0x0b]).field().is_err());
        // truncated fixed64 / fixed32
        assert!(Reader::new(&[0x09, 1, 2]).field().is_err());
        assert!(Reader::new(&[0x0d, 1]).field().is_err());
    }
}
