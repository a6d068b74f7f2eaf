//! Exercises the concord-guest crate; the key says what to do (see
//! guesttest.CheckFeatures). Built by rust_test.go.

use concord_guest::{config, log, Input, Level, Resolution};

fn features(input: &Input) -> Resolution {
    match input.key {
        b"config" => Resolution::Value(config()),
        b"input" => {
            let mut out = format!(
                "{}/{}/{}",
                input.namespace,
                String::from_utf8_lossy(input.key),
                input.siblings.len()
            );
            for s in &input.siblings {
                out += &format!(
                    "/{}:{}:{}",
                    s.tombstone,
                    s.timestamp,
                    String::from_utf8_lossy(s.value)
                );
            }
            Resolution::Value(out.into_bytes())
        }
        b"log" => {
            log(Level::Warn, &format!("hello {}", 42));
            Resolution::Value(Vec::new())
        }
        b"defer" => Resolution::Defer,
        b"fail" => Resolution::Error("cannot merge".to_string()),
        b"panic" => panic!("boom"),
        b"big" => Resolution::Value(vec![0; 2 << 20]),
        _ => Resolution::Defer,
    }
}

concord_guest::export_resolver!(features);
