//! `data::idx::parse` on arbitrary bytes: never panics, never allocates more than the input
//! holds, and an accepted array's data is exactly the product of its dimensions. The streaming
//! reader the loader uses (`data::idx::read_from`, told the input's length) gives the same
//! array or the same message.
#![no_main]

use itlm_inspector::data::idx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = idx::parse(data) {
        assert!((1..=4).contains(&a.dims.len()));
        // Four u32 dimensions always fit a u128 product (a zero makes huge others harmless).
        let total: u128 = a.dims.iter().map(|&d| d as u128).product();
        assert_eq!(a.data.len() as u128, total);
        assert_eq!(&data[4 + 4 * a.dims.len()..][..a.data.len()], &a.data[..]);
    }
    let streamed = idx::read_from(&mut &data[..], Some(data.len() as u64), None);
    match (idx::parse(data), streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(idx::ReadError::Format(b))) => assert_eq!(a, b),
        (a, b) => panic!("parse {a:?} but read_from {b:?}"),
    }
});
