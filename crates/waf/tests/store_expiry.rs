//! Persistent collections over time: `expirevar`, `deprecatevar`, `SecCollectionTimeout`,
//! the `SecCollectionMaxCount` bound, built-in members and counters shared by concurrent
//! transactions. Time comes from a [`ManualClock`]: nothing sleeps.

use portcullis_waf::{ConnectionInfo, Engine, ManualClock, Outcome, Transaction};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

const T0: u64 = 1_700_000_000;

fn engine(rules: &str) -> (Arc<Engine>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let mut b = Engine::builder();
    b.clock(clock.clone());
    b.add_text(rules, "store_expiry", Path::new("."))
        .unwrap_or_else(|e| panic!("{e}"));
    (Arc::new(b.build().unwrap_or_else(|e| panic!("{e}"))), clock)
}

fn compile_error(rules: &str) -> String {
    let mut b = Engine::builder();
    match b.add_text(rules, "t", Path::new(".")).map(|_| ()) {
        Err(e) => e.to_string(),
        Ok(()) => match b.build() {
            Err(e) => e.to_string(),
            Ok(_) => panic!("compiled: {rules}"),
        },
    }
}

/// One request from `ip` through phases 1, 2 and 5; the outcome and the finished
/// transaction (for TX values).
fn request(engine: &Arc<Engine>, ip: &str, uri: &str) -> (Outcome, Transaction) {
    let ip: IpAddr = ip.parse().unwrap();
    let mut tx = engine.transaction(ConnectionInfo {
        client_ip: ip,
        client_port: 40000,
        server_ip: [127, 0, 0, 1].into(),
        server_port: 80,
        unique_id: "u".into(),
    });
    tx.request_line("GET", uri, "HTTP/1.1");
    let mut out = tx.process_request_headers();
    if out == Outcome::Pass {
        out = tx.process_request_body();
    }
    tx.process_logging();
    (out, tx)
}

fn tx_var(tx: &Transaction, name: &str) -> Option<String> {
    tx.tx_var(name)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

const DENY: Outcome = Outcome::Deny { status: 429 };

/// A fixed 60-second window: the first request opens it (counter 0, expiring in 60 s),
/// every request counts, the third one in the window is refused.
const RATE_LIMIT: &str = r#"
SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR}"
SecRule &IP:hits "@eq 0" "id:2,phase:1,pass,nolog,setvar:ip.hits=0,expirevar:ip.hits=60"
SecAction "id:3,phase:1,pass,nolog,setvar:ip.hits=+1,setvar:tx.hits=%{ip.hits}"
SecRule IP:hits "@ge 3" "id:4,phase:1,deny,status:429"
"#;

#[test]
fn rate_limit_window_denies_then_allows_again() {
    let (e, clock) = engine(RATE_LIMIT);
    let ip = "192.0.2.1";
    assert_eq!(request(&e, ip, "/").0, Outcome::Pass);
    clock.advance(20);
    assert_eq!(request(&e, ip, "/").0, Outcome::Pass);
    clock.advance(20);
    let (out, tx) = request(&e, ip, "/");
    assert_eq!(out, DENY);
    assert_eq!(tx_var(&tx, "hits").as_deref(), Some("3"));
    // Another client has its own counter.
    assert_eq!(request(&e, "192.0.2.2", "/").0, Outcome::Pass);
    clock.advance(19); // 59 s after the window opened: still inside
    assert_eq!(request(&e, ip, "/").0, DENY);
    clock.advance(1); // 60 s: the counter expired, a new window starts
    let (out, tx) = request(&e, ip, "/");
    assert_eq!(out, Outcome::Pass);
    assert_eq!(tx_var(&tx, "hits").as_deref(), Some("1"));
    assert_eq!(request(&e, ip, "/").0, Outcome::Pass);
    assert_eq!(request(&e, ip, "/").0, DENY);
}

#[test]
fn expired_member_is_absent_and_counted_zero() {
    let rules = r#"
SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR}"
SecRule ARGS:set "@streq 1" "id:2,phase:1,pass,nolog,setvar:ip.flag=on,expirevar:ip.flag=10"
SecRule &IP:flag "@eq 0" "id:3,phase:1,pass,nolog,setvar:tx.count=0"
SecRule &IP:flag "@eq 1" "id:4,phase:1,pass,nolog,setvar:tx.count=1,setvar:tx.flag=%{ip.flag}"
"#;
    let (e, clock) = engine(rules);
    let ip = "198.51.100.7";
    request(&e, ip, "/?set=1");
    clock.advance(9);
    let (_, tx) = request(&e, ip, "/");
    assert_eq!(tx_var(&tx, "count").as_deref(), Some("1"));
    assert_eq!(tx_var(&tx, "flag").as_deref(), Some("on"));
    clock.advance(1);
    let (_, tx) = request(&e, ip, "/");
    assert_eq!(tx_var(&tx, "count").as_deref(), Some("0"));
    assert_eq!(tx_var(&tx, "flag"), None);
}

#[test]
fn expirevar_expands_macros_in_name_and_seconds() {
    let rules = r#"
SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR}"
SecAction "id:5,phase:1,pass,nolog,setvar:tx.window=30,setvar:tx.which=blocked"
SecRule ARGS:set "@streq 1" "id:2,phase:1,pass,nolog,setvar:ip.blocked=1,setvar:ip.other=1,expirevar:ip.%{tx.which}=%{tx.window}"
SecRule &IP:blocked "@eq 1" "id:3,phase:1,deny,status:429"
SecRule ARGS:bad "@streq 1" "id:4,phase:1,pass,nolog,setvar:tx.window=soon,expirevar:ip.other=%{tx.window}"
"#;
    let (e, clock) = engine(rules);
    let ip = "203.0.113.9";
    assert_eq!(request(&e, ip, "/?set=1").0, DENY);
    // Seconds that do not expand to a whole number leave the member as it is.
    assert_eq!(request(&e, ip, "/?bad=1").0, DENY);
    clock.advance(29);
    assert_eq!(request(&e, ip, "/").0, DENY);
    clock.advance(1);
    assert_eq!(request(&e, ip, "/").0, Outcome::Pass);
    let rules_other = r#"
SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR}"
SecRule ARGS:set "@streq 1" "id:2,phase:1,pass,nolog,setvar:ip.other=1,setvar:tx.w=x5,expirevar:ip.other=%{tx.w}"
SecRule &IP:other "@eq 1" "id:3,phase:1,deny,status:429"
"#;
    let (e, clock) = engine(rules_other);
    assert_eq!(request(&e, ip, "/?set=1").0, DENY);
    clock.advance(1000);
    assert_eq!(request(&e, ip, "/").0, DENY);
}

#[test]
fn collection_times_out_when_not_written_back() {
    let rules = r#"
SecCollectionTimeout 100
SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR}"
SecRule ARGS:set "@streq 1" "id:2,phase:1,pass,nolog,setvar:ip.seen=1"
SecRule &IP:seen "@eq 1" "id:3,phase:1,pass,nolog,setvar:tx.seen=1"
SecAction "id:4,phase:1,pass,nolog,setvar:tx.is_new=%{ip.is_new},setvar:tx.timeout=%{ip.timeout}"
"#;
    let (e, clock) = engine(rules);
    let ip = "192.0.2.50";
    let (_, tx) = request(&e, ip, "/?set=1");
    assert_eq!(tx_var(&tx, "is_new").as_deref(), Some("1"));
    assert_eq!(tx_var(&tx, "timeout").as_deref(), Some("100"));
    assert_eq!(e.stored_collections(), 1);
    // Every transaction that opens the collection refreshes its timeout.
    clock.advance(99);
    let (_, tx) = request(&e, ip, "/");
    assert_eq!(tx_var(&tx, "seen").as_deref(), Some("1"));
    assert_eq!(tx_var(&tx, "is_new").as_deref(), Some("0"));
    clock.advance(99);
    let (_, tx) = request(&e, ip, "/");
    assert_eq!(tx_var(&tx, "seen").as_deref(), Some("1"));
    clock.advance(100);
    let (_, tx) = request(&e, ip, "/");
    assert_eq!(tx_var(&tx, "seen"), None);
    assert_eq!(tx_var(&tx, "is_new").as_deref(), Some("1"));
    // A collection nothing was written to is not stored.
    assert_eq!(e.stored_collections(), 0);
    request(&e, "192.0.2.51", "/");
    assert_eq!(e.stored_collections(), 0);
}

#[test]
fn default_timeout_is_an_hour_and_timeout_member_overrides_it() {
    let rules = r#"
SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR}"
SecAction "id:5,phase:1,pass,nolog,setvar:tx.timeout=%{ip.timeout}"
SecRule ARGS:set "@streq 1" "id:2,phase:1,pass,nolog,setvar:ip.seen=1"
SecRule ARGS:short "@streq 1" "id:3,phase:1,pass,nolog,setvar:ip.timeout=10"
SecRule &IP:seen "@eq 1" "id:4,phase:1,pass,nolog,setvar:tx.seen=1"
"#;
    let (e, clock) = engine(rules);
    let (_, tx) = request(&e, "192.0.2.60", "/?set=1");
    assert_eq!(tx_var(&tx, "timeout").as_deref(), Some("3600"));
    request(&e, "192.0.2.61", "/?set=1&short=1");
    clock.advance(3599);
    assert_eq!(
        tx_var(&request(&e, "192.0.2.60", "/").1, "seen").as_deref(),
        Some("1")
    );
    // 3599 s > 10 s: the short-lived collection is gone.
    assert_eq!(tx_var(&request(&e, "192.0.2.61", "/").1, "seen"), None);
    clock.advance(3600);
    assert_eq!(tx_var(&request(&e, "192.0.2.60", "/").1, "seen"), None);
}

#[test]
fn stored_collections_are_bounded_oldest_evicted_first() {
    let rules = r#"
SecCollectionMaxCount 3
SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR}"
SecAction "id:2,phase:1,pass,nolog,setvar:ip.n=+1,setvar:tx.n=%{ip.n}"
"#;
    let (e, clock) = engine(rules);
    for i in 1..=3 {
        request(&e, &format!("10.0.0.{i}"), "/");
        clock.advance(1);
    }
    // 10.0.0.1 is used again: 10.0.0.2 is now the least recently used.
    let (_, tx) = request(&e, "10.0.0.1", "/");
    assert_eq!(tx_var(&tx, "n").as_deref(), Some("2"));
    for i in 4..=5 {
        request(&e, &format!("10.0.0.{i}"), "/");
        assert_eq!(e.stored_collections(), 3);
    }
    // 10.0.0.2 and 10.0.0.3 were evicted; 10.0.0.1 survived.
    assert_eq!(
        tx_var(&request(&e, "10.0.0.1", "/").1, "n").as_deref(),
        Some("3")
    );
    assert_eq!(
        tx_var(&request(&e, "10.0.0.2", "/").1, "n").as_deref(),
        Some("1")
    );
    assert_eq!(
        tx_var(&request(&e, "10.0.0.3", "/").1, "n").as_deref(),
        Some("1")
    );
    // Many clients: memory stays bounded.
    for i in 0..1000u32 {
        request(&e, &format!("10.1.{}.{}", i / 256, i % 256), "/");
    }
    assert_eq!(e.stored_collections(), 3);
}

#[test]
fn built_in_members() {
    let rules = r#"
SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR}"
SecAction "id:5,phase:1,pass,nolog,setvar:ip.n=+1"
SecAction "id:2,phase:1,pass,nolog,setvar:tx.key=%{ip.KEY},setvar:tx.is_new=%{ip.IS_NEW},setvar:tx.create=%{ip.CREATE_TIME},setvar:tx.update=%{ip.LAST_UPDATE_TIME},setvar:tx.counter=%{ip.UPDATE_COUNTER},setvar:tx.timeout=%{ip.TIMEOUT}"
SecRule IP:UPDATE_COUNTER "@eq 2" "id:3,phase:1,pass,nolog,setvar:tx.third=1"
"#;
    let (e, clock) = engine(rules);
    let ip = "192.0.2.77";
    let (_, tx) = request(&e, ip, "/");
    let t0 = T0.to_string();
    assert_eq!(tx_var(&tx, "key").as_deref(), Some(ip));
    assert_eq!(tx_var(&tx, "is_new").as_deref(), Some("1"));
    assert_eq!(tx_var(&tx, "create").as_deref(), Some(t0.as_str()));
    assert_eq!(tx_var(&tx, "update").as_deref(), Some(t0.as_str()));
    assert_eq!(tx_var(&tx, "counter").as_deref(), Some("0"));
    assert_eq!(tx_var(&tx, "timeout").as_deref(), Some("3600"));
    clock.advance(5);
    let (_, tx) = request(&e, ip, "/");
    assert_eq!(tx_var(&tx, "is_new").as_deref(), Some("0"));
    assert_eq!(tx_var(&tx, "create").as_deref(), Some(t0.as_str()));
    assert_eq!(tx_var(&tx, "counter").as_deref(), Some("1"));
    assert_eq!(tx_var(&tx, "third"), None);
    clock.advance(5);
    let (_, tx) = request(&e, ip, "/");
    assert_eq!(tx_var(&tx, "counter").as_deref(), Some("2"));
    assert_eq!(
        tx_var(&tx, "update").as_deref(),
        Some((T0 + 5).to_string().as_str())
    );
    assert_eq!(tx_var(&tx, "third").as_deref(), Some("1"));
}

#[test]
fn deprecatevar_decreases_with_time_since_last_update() {
    let rules = r#"
SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR}"
SecRule ARGS:set "@streq 1" "id:2,phase:1,pass,nolog,setvar:ip.score=100"
SecRule ARGS:dep "@streq 1" "id:3,phase:1,pass,nolog,deprecatevar:ip.score=5/10"
SecAction "id:4,phase:1,pass,nolog,setvar:tx.score=%{ip.score}"
"#;
    let (e, clock) = engine(rules);
    let ip = "192.0.2.88";
    request(&e, ip, "/?set=1");
    clock.advance(30);
    let (_, tx) = request(&e, ip, "/?dep=1");
    assert_eq!(tx_var(&tx, "score").as_deref(), Some("85"));
    clock.advance(1000);
    let (_, tx) = request(&e, ip, "/?dep=1");
    assert_eq!(tx_var(&tx, "score").as_deref(), Some("0"));
}

#[test]
fn concurrent_counters_lose_no_increment() {
    let rules = r#"
SecAction "id:1,phase:1,pass,nolog,initcol:global=all,initcol:ip=%{REMOTE_ADDR}"
SecAction "id:2,phase:1,pass,nolog,setvar:global.n=+1,setvar:ip.n=+2,setvar:tx.n=%{global.n},setvar:tx.ip=%{ip.n}"
"#;
    let (e, _) = engine(rules);
    std::thread::scope(|s| {
        for t in 0..8 {
            let e = e.clone();
            s.spawn(move || {
                for _ in 0..50 {
                    request(&e, &format!("10.9.0.{t}"), "/");
                }
            });
        }
    });
    let (_, tx) = request(&e, "10.9.0.0", "/");
    assert_eq!(tx_var(&tx, "n").as_deref(), Some("401"));
    assert_eq!(tx_var(&tx, "ip").as_deref(), Some("102"));
    assert_eq!(e.stored_collections(), 9);
}

#[test]
fn malformed_collection_actions_are_load_errors() {
    let cases = [
        (
            "expirevar:ip.x",
            "expirevar: expected collection.name=seconds",
        ),
        (
            "expirevar:ip.x=soon",
            "expirevar: seconds must be a whole number",
        ),
        (
            "expirevar:ip.x=-5",
            "expirevar: seconds must be a whole number",
        ),
        (
            "expirevar:tx.x=5",
            "expirevar: collection \"tx\" is not persistent",
        ),
        ("expirevar:x=5", "expirevar: expected collection.name=..."),
        ("expirevar:ip.=5", "expirevar: empty member name"),
        ("expirevar:ip.x=%{nope}", "unknown variable \"nope\""),
        ("expirevar", "action expirevar needs a value"),
        ("deprecatevar:ip.x=5", "deprecatevar: expected N/SECONDS"),
        ("deprecatevar:ip.x=5/0", "deprecatevar: expected N/SECONDS"),
        (
            "deprecatevar:ip.x",
            "deprecatevar: expected collection.name=N/SECONDS",
        ),
        (
            "deprecatevar:global.%{nope}=1/2",
            "unknown variable \"nope\"",
        ),
        (
            "deprecatevar:tx.x=1/2",
            "deprecatevar: collection \"tx\" is not persistent",
        ),
    ];
    for (action, want) in cases {
        let rules = format!("\nSecAction \"id:1,phase:1,pass,{action}\"");
        let err = compile_error(&rules);
        assert!(
            err.starts_with("t:2: ") && err.contains(want),
            "{action}: {err:?} lacks {want:?}"
        );
    }
    for (directive, want) in [
        (
            "SecCollectionTimeout 0",
            "SecCollectionTimeout: must be at least 1",
        ),
        (
            "SecCollectionTimeout 1h",
            "SecCollectionTimeout: expected a number",
        ),
        (
            "SecCollectionMaxCount 0",
            "SecCollectionMaxCount: must be at least 1",
        ),
        (
            "SecCollectionMaxCount",
            "SecCollectionMaxCount takes exactly one argument",
        ),
    ] {
        let err = compile_error(directive);
        assert!(err.contains(want), "{directive}: {err:?} lacks {want:?}");
    }
}
