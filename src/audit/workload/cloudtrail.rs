//! Synthetic CloudTrail for an inventory: events of its users and roles calling
//! actions their policies mention (and near misses), with resources their
//! statements name, and the recorded outcome AWS would have logged (taken
//! from the compiled engine). Replaying such a log must show no would-break
//! and no disagreement: a round-trip check of the event ↔ request mapping.
//! Also a volume workload for replay benchmarks.

use super::{fill, Rng, ACCOUNT};
use crate::audit::cloudtrail::event::to_checks;
use crate::audit::cloudtrail::record::Record;
use crate::audit::inventory::Inventory;
use crate::engine::compile::CompiledPolicySet;
use crate::engine::eval::{Scratch, Verdict};
use crate::engine::request::Principal;
use serde_json::{json, Value};

struct Actor {
    arn: String,
    principal: Principal,
    actions: Vec<String>,
    resources: Vec<String>,
    set: CompiledPolicySet,
}

/// Generates events for the users and roles of an inventory.
pub struct EventGenerator {
    actors: Vec<Actor>,
}

const REGIONS: &[&str] = &["us-west-2", "eu-west-1"];

impl EventGenerator {
    /// Prepares the actors of `inventory`.
    ///
    /// # Errors
    /// When a principal's policy set does not compile.
    pub fn new(inventory: &Inventory) -> Result<EventGenerator, crate::CompileError> {
        let mut actors = Vec::new();
        for id in inventory.identities() {
            let Some(set) = inventory.policy_set(&id.arn, &[]) else { continue };
            let principal = if Inventory::is_role(&id.arn) {
                let name = id.arn.rsplit('/').next().unwrap_or("role");
                match Principal::parse(&format!("arn:aws:sts::{}:assumed-role/{name}/session-1", account_of(&id.arn))) {
                    Ok(Principal::RoleSession { account, role_name, session_arn, .. }) => Principal::RoleSession {
                        account,
                        role_name,
                        session_arn,
                        role_arn: id.arn.clone(),
                        role_path_known: true,
                    },
                    _ => continue,
                }
            } else {
                match Principal::parse(&id.arn) {
                    Ok(p) => p,
                    Err(_) => continue,
                }
            };
            let mut actions = Vec::new();
            let mut resources = Vec::new();
            for s in id.policies.iter().flat_map(|p| &p.statements).filter(|s| !s.actions.negated) {
                actions.extend(s.actions.patterns.iter().filter(|a| a.contains(':')).cloned());
                if let Some(r) = &s.resources {
                    resources.extend(r.patterns.iter().filter(|p| p.starts_with("arn:")).cloned());
                }
            }
            if actions.is_empty() {
                continue;
            }
            actors.push(Actor {
                arn: id.arn.clone(),
                principal,
                actions,
                resources,
                set: CompiledPolicySet::compile(set)?,
            });
        }
        Ok(EventGenerator { actors })
    }

    /// Whether there is anyone to generate events for.
    pub fn is_empty(&self) -> bool {
        self.actors.is_empty()
    }

    /// Calls `sink` with `count` events from `seed`.
    pub fn generate(&self, count: usize, seed: u64, mut sink: impl FnMut(Value)) {
        let mut rng = Rng::new(seed);
        let mut scratches: Vec<Scratch> = self.actors.iter().map(|a| Scratch::new(&a.set)).collect();
        for i in 0..count {
            let k = rng.below(self.actors.len());
            let (Some(actor), Some(scratch)) = (self.actors.get(k), scratches.get_mut(k)) else { return };
            sink(event(actor, scratch, &mut rng, i));
        }
    }
}

fn account_of(arn: &str) -> &str {
    arn.split(':').nth(4).filter(|a| !a.is_empty()).unwrap_or(ACCOUNT)
}

fn event(actor: &Actor, scratch: &mut Scratch, rng: &mut Rng, i: usize) -> Value {
    let account = account_of(&actor.arn);
    let region = rng.pick(REGIONS).copied().unwrap_or("us-west-2");
    let pattern = rng.pick(&actor.actions).cloned().unwrap_or_default();
    let mut action = fill(rng, &["Object", "Instances", "NetworkInterface", "Volume", "Tags"], &pattern);
    if rng.chance(15) {
        action.push_str("Extra"); // a near miss: usually denied
    }
    let (service, name) =
        action.split_once(':').map(|(s, n)| (s.to_ascii_lowercase(), n.to_string())).unwrap_or_default();
    let resource = match rng.pick(&actor.resources) {
        Some(p) if rng.chance(80) => {
            let mut segs: Vec<String> = p.splitn(6, ':').map(str::to_string).collect();
            if let Some(r) = segs.get_mut(3).filter(|r| r.contains(['*', '?'])) {
                *r = region.to_string();
            }
            if let Some(a) = segs.get_mut(4).filter(|a| a.contains(['*', '?'])) {
                *a = account.to_string();
            }
            if let Some(r) = segs.get_mut(5) {
                *r = fill(rng, &["a", "b1", "data/x.csv"], &r.replace("${", "").replace('}', ""));
            }
            segs.join(":")
        }
        _ => format!("arn:aws:{service}:{region}:{account}:thing/t-{}", rng.below(100)),
    };
    let resource_type = if service == "s3" {
        if name.contains("Object") || name.contains("Multipart") {
            "AWS::S3::Object"
        } else {
            "AWS::S3::Bucket"
        }
    } else {
        "AWS::Generic::Resource"
    };
    let identity = match &actor.principal {
        Principal::RoleSession { session_arn, role_arn, .. } => json!({
            "type": "AssumedRole", "arn": session_arn, "accountId": account, "accessKeyId": "ASIAGENERATED", "principalId": "AROAGENERATED:session-1",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "accountId": account},
                               "attributes": {"creationDate": "2026-11-01T00:00:00Z", "mfaAuthenticated": "false"}}
        }),
        p => {
            json!({"type": "IAMUser", "arn": p.display_name(), "accountId": account, "accessKeyId": "AKIAGENERATED", "principalId": "AIDAGENERATED"})
        }
    };
    let mut e = json!({
        "eventVersion": "1.08", "userIdentity": identity,
        "eventTime": format!("2026-11-01T{:02}:{:02}:{:02}Z", (i / 3600) % 24, (i / 60) % 60, i % 60),
        "eventSource": format!("{service}.amazonaws.com"), "eventName": name, "awsRegion": region,
        "sourceIPAddress": "203.0.113.7", "userAgent": "iamsim-gen", "requestParameters": {},
        "eventID": format!("00000000-0000-4000-8000-{i:012}"), "eventType": "AwsApiCall", "recipientAccountId": account,
        "resources": [{"ARN": resource, "accountId": account, "type": resource_type}],
    });
    // The outcome AWS would record: every check replay derives from this very
    // event must be allowed (so replay's reading of events is what is tested).
    let allowed = match to_checks(&Record::from_value(&e)) {
        Ok(ev) => ev
            .checks
            .iter()
            .all(|c| ev.request(c).is_some_and(|r| actor.set.decide_verdict(&r, scratch) == Verdict::Allowed)),
        Err(_) => false,
    };
    if !allowed {
        if let Some(obj) = e.as_object_mut() {
            obj.insert("errorCode".into(), json!("AccessDenied"));
            obj.insert("errorMessage".into(), json!(format!("User is not authorized to perform: {action}")));
        }
    }
    e
}
