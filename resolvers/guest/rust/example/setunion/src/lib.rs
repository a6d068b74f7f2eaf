//! An example resolver: values are sets of lines, and the merge is their
//! union, sorted by bytes, without duplicates or empty lines. A key whose
//! siblings are all tombstones stays deleted.

use concord_guest::{Input, Resolution};

fn set_union(input: &Input) -> Resolution {
    if input.live().next().is_none() {
        return Resolution::Delete;
    }
    let mut lines: Vec<&[u8]> = input
        .live()
        .flat_map(|value| value.split(|&b| b == b'\n'))
        .filter(|line| !line.is_empty())
        .collect();
    lines.sort_unstable();
    lines.dedup();
    Resolution::Value(lines.join(&b'\n'))
}

concord_guest::export_resolver!(set_union);
