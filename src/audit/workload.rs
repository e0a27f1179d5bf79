//! Deterministic request streams for a policy set: actions drawn from the
//! statements' patterns (wildcards filled in, case varied) and from near
//! misses, resources that match and almost match, context with and without
//! the keys the conditions use, several principals. The mix yields all three
//! decisions. Used by `iamsim gen-requests`, `iamsim bench` and the benches.
//!
//! Beside the pipeline: reads `policy` and builds `request`s.
//!
//! ```
//! use iamsim::audit::workload::Generator;
//! use iamsim::{parse_policy, PolicyKind, PolicySet};
//! let p = parse_policy(br#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*NetworkInterface","Resource":"*"}}"#,
//!                      "cni", PolicyKind::Identity)?;
//! let set = PolicySet { identity: vec![p], ..Default::default() };
//! let requests = Generator::new(&set).generate(100, 7);
//! assert_eq!(requests.len(), 100);
//! // The same seed, the same stream.
//! assert_eq!(requests, Generator::new(&set).generate(100, 7));
//! // Streamed one at a time, the same requests.
//! assert!(Generator::new(&set).stream(100, 7).eq(requests));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod account;
pub mod cloudtrail;

use crate::engine::policy::{Family, PolicySet};
use crate::engine::request::{Context, ContextEntry, ContextValue, Principal, Request};

/// splitmix64: a tiny seeded generator whose stream never changes across
/// versions (a benchmark must see the same requests for the same seed).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        usize::try_from(self.next_u64() % u64::try_from(n).unwrap_or(u64::MAX)).unwrap_or(0)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

/// A concrete string matching `pattern`: each `*` becomes one of `fillers`,
/// each `?` a random letter.
pub(crate) fn fill(rng: &mut Rng, fillers: &[&str], pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    for c in pattern.chars() {
        match c {
            '*' => out.push_str(rng.pick(fillers).copied().unwrap_or("")),
            '?' => out.push(char::from(b'a' + u8::try_from(rng.below(26)).unwrap_or(0))),
            c => out.push(c),
        }
    }
    out
}

/// The account the generated principals and resources live in.
pub const ACCOUNT: &str = "111122223333";
const REGIONS: &[&str] = &["us-west-2", "eu-west-1", "us-east-1", "ap-south-1"];
const FILLERS: &[&str] = &["Object", "Instance", "NetworkInterface", "Volume", "x", "prod", "eks", "a1", ""];
const PRINCIPALS: &[&str] = &[
    "arn:aws:sts::111122223333:assumed-role/eks-node-role/i-0a1b2c3d",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:role/team/app",
    "arn:aws:iam::444455556666:user/mallory",
];

/// What the generator draws from, extracted once from a policy set.
#[derive(Debug, Clone)]
pub struct Generator {
    actions: Vec<String>,
    resources: Vec<String>,
    keys: Vec<(String, Vec<String>, Family)>,
    principals: Vec<Principal>,
}

impl Generator {
    /// Collects patterns, resources and condition keys from `set`.
    pub fn new(set: &PolicySet) -> Generator {
        let mut actions = Vec::new();
        let mut resources = Vec::new();
        let mut keys: Vec<(String, Vec<String>, Family)> = Vec::new();
        for (_, _, s) in set.statements() {
            actions.extend(s.actions.patterns.iter().filter(|p| p.contains(':')).cloned());
            if let Some(r) = &s.resources {
                resources.extend(r.patterns.iter().cloned());
            }
            for c in &s.conditions {
                match keys.iter_mut().find(|(k, _, _)| k.eq_ignore_ascii_case(&c.key)) {
                    Some((_, values, _)) => values.extend(c.values.iter().cloned()),
                    None => keys.push((c.key.clone(), c.values.clone(), c.operator.base.family)),
                }
            }
        }
        actions.sort();
        actions.dedup();
        resources.sort();
        resources.dedup();
        if actions.is_empty() {
            actions.push("s3:GetObject".to_string());
        }
        if resources.is_empty() {
            resources.push("*".to_string());
        }
        let principals = PRINCIPALS.iter().filter_map(|p| Principal::parse(p).ok()).collect();
        Generator { actions, resources, keys, principals }
    }

    /// `n` requests from seed `seed`; the same inputs always give the same requests.
    pub fn generate(&self, n: usize, seed: u64) -> Vec<Request> {
        self.stream(n, seed).collect()
    }

    /// [`Generator::generate`], one request at a time: memory stays that of
    /// one request whatever `n` (`iamsim gen-requests --count 100000000`).
    pub fn stream(&self, n: usize, seed: u64) -> impl Iterator<Item = Request> + '_ {
        let mut rng = Rng::new(seed);
        (0..n).map(move |_| self.one(&mut rng))
    }

    fn action(&self, rng: &mut Rng) -> String {
        let pattern = rng.pick(&self.actions).cloned().unwrap_or_default();
        let mut a = fill(rng, FILLERS, &pattern);
        match rng.below(10) {
            // Near misses: another name in the same service, or a typo.
            0 => a.push_str("Extra"),
            1 => {
                if let Some((svc, _)) = a.split_once(':') {
                    a = format!("{svc}:DeleteEverything");
                }
            }
            2 => a = a.to_ascii_uppercase(),
            3 => a = a.to_ascii_lowercase(),
            _ => {}
        }
        a
    }

    fn resource(&self, rng: &mut Rng, action: &str) -> String {
        if rng.chance(20) {
            return "*".to_string();
        }
        let pattern = rng.pick(&self.resources).cloned().unwrap_or_else(|| "*".to_string());
        if pattern == "*" {
            let service = action.split_once(':').map_or("s3", |(s, _)| s).to_ascii_lowercase();
            let region = rng.pick(REGIONS).copied().unwrap_or("us-west-2");
            return format!("arn:aws:{service}:{region}:{ACCOUNT}:thing/t-{}", rng.below(1000));
        }
        // Fill each header segment sensibly (a request names a real partition,
        // service, region and account), the resource part with fillers.
        let mut segs: Vec<String> = pattern.splitn(6, ':').map(str::to_string).collect();
        if let Some(partition) = segs.get_mut(1) {
            if partition.contains(['*', '?']) {
                *partition = "aws".to_string();
            }
        }
        if let Some(service) = segs.get_mut(2) {
            if service.contains(['*', '?']) {
                // The action's service where the pattern allows it.
                let own = action.split_once(':').map_or("s3", |(s, _)| s).to_ascii_lowercase();
                *service = if crate::engine::policy::pattern::glob_match(service, &own) {
                    own
                } else {
                    fill(rng, &["x"], service)
                };
            }
        }
        if let Some(region) = segs.get_mut(3) {
            if region.contains(['*', '?']) {
                *region = rng.pick(REGIONS).copied().unwrap_or("us-west-2").to_string();
            }
        }
        if let Some(account) = segs.get_mut(4) {
            if account.contains(['*', '?']) || account.contains("${") {
                *account = ACCOUNT.to_string();
            }
        }
        if let Some(res) = segs.get_mut(5) {
            let filled = fill(rng, FILLERS, &res.replace("${", "").replace('}', ""));
            *res = if rng.chance(10) { format!("{filled}-other") } else { filled };
        }
        segs.join(":")
    }

    fn context(&self, rng: &mut Rng) -> Context {
        let mut ctx = Context::new();
        if rng.chance(70) {
            let region = rng.pick(REGIONS).copied().unwrap_or("us-west-2");
            ctx.insert("aws:RequestedRegion", ContextValue::Single(region.to_string()));
        }
        for (key, values, family) in &self.keys {
            if !rng.chance(50) {
                continue;
            }
            let value = match family {
                Family::Bool | Family::Null => if rng.chance(50) { "true" } else { "false" }.to_string(),
                Family::Ip => if rng.chance(50) { "203.0.113.7" } else { "198.51.100.1" }.to_string(),
                Family::Date => "2024-06-01T00:00:00Z".to_string(),
                Family::Numeric => rng.below(20).to_string(),
                _ => match rng.pick(values) {
                    Some(v) if rng.chance(70) => fill(rng, FILLERS, &v.replace("${", "").replace('}', "")),
                    _ => "unrelated".to_string(),
                },
            };
            ctx.insert(key, ContextValue::Single(value));
        }
        ctx
    }

    fn one(&self, rng: &mut Rng) -> Request {
        let action = self.action(rng);
        let resource = self.resource(rng, &action);
        let principal = rng.pick(&self.principals).cloned().unwrap_or(Principal::Anonymous);
        let mut req = Request::new(principal, &action, &resource);
        req.context = self.context(rng);
        req
    }
}

/// The `eval` request line for `req`.
pub fn request_json(req: &Request) -> serde_json::Value {
    let mut ctx = serde_json::Map::new();
    for (k, v) in req.context.iter() {
        let value = match v {
            ContextEntry::Single(s) => serde_json::Value::String(s.to_string()),
            ContextEntry::Multi(m) => serde_json::Value::from(m.to_vec()),
            ContextEntry::Unknown => serde_json::Value::Null,
            // Closed-world request lines: an absent key is simply not written.
            ContextEntry::Absent => continue,
        };
        ctx.insert(k.to_string(), value);
    }
    let mut line = serde_json::json!({
        "principal": req.principal.display_name(),
        "action": req.action,
        "resource": req.resource,
    });
    if let Some(obj) = line.as_object_mut() {
        if let Some(a) = &req.resource_account {
            obj.insert("resource_account".into(), serde_json::Value::String(a.clone()));
        }
        if !ctx.is_empty() {
            obj.insert("context".into(), serde_json::Value::Object(ctx));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_for_a_seed() {
        let doc = br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*NetworkInterface","Resource":"arn:aws:ec2:*:*:network-interface/*","Condition":{"StringLike":{"ec2:ResourceTag/x":"y*"}}}]}"#;
        let p = crate::engine::policy::parse_policy(doc, "p", crate::engine::policy::PolicyKind::Identity).unwrap();
        let g = Generator::new(&PolicySet { identity: vec![p], ..Default::default() });
        let a = g.generate(50, 7);
        assert_eq!(a, g.generate(50, 7));
        assert_ne!(a, g.generate(50, 8));
        assert!(a.iter().any(|r| r.action.to_ascii_lowercase().ends_with("networkinterface")));
        assert!(a.iter().any(|r| r.context.get("ec2:ResourceTag/x").is_some()));
    }

    /// Wildcards in a pattern's partition, service, region or account are
    /// filled in: a request's resource is `*` or an ARN with a concrete header.
    #[test]
    fn generated_arns_have_concrete_headers() {
        let doc = br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:Get*",
            "Resource":["arn:*:secretsmanager:*:*:secret:eks-*","arn:aws*:s?:::bucket/*","arn:aws:*:us-*:*:thing/*"]}]}"#;
        let p = crate::engine::policy::parse_policy(doc, "p", crate::engine::policy::PolicyKind::Identity).unwrap();
        let g = Generator::new(&PolicySet { identity: vec![p], ..Default::default() });
        let reqs = g.generate(300, 3);
        let mut arns = 0;
        for r in reqs.iter().filter(|r| r.resource != "*") {
            let arn = crate::engine::policy::Arn::parse(&r.resource).unwrap_or_else(|| panic!("{}", r.resource));
            assert!(!arn.header().iter().any(|s| s.contains(['*', '?'])), "{}", r.resource);
            arns += 1;
        }
        assert!(arns > 200, "{arns}");
        // Every pattern was drawn from: the partition filled with `aws`, a
        // service wildcard with the action's service where the pattern allows
        // it (`*`), else filled in (`s?`).
        for (prefix, part) in [
            ("arn:aws:secretsmanager:", ":secret:eks-"),
            ("arn:aws:s", ":::bucket/"),
            ("arn:aws:secretsmanager:", ":thing/"),
        ] {
            assert!(
                reqs.iter().any(|r| r.resource.starts_with(prefix) && r.resource.contains(part)),
                "{prefix}…{part}"
            );
        }
    }
}
