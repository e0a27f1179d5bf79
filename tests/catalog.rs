//! The action catalog: loading (both input formats and the snapshot),
//! `expand` against a direct glob, `validate` findings, `diff` over the
//! managed-policy history, and the CLI contracts of these commands. The
//! corpus catalog (`corpus/catalog/service-reference/`, hand-written in AWS's
//! format) keeps most of these runnable without `../shared/data`.

use iamsim::audit::catalog::diff::diff;
use iamsim::audit::catalog::validate::validate;
use iamsim::audit::catalog::{ActionId, Catalog};
use iamsim::engine::policy::pattern::{tokens, tokens_match};
use iamsim::engine::policy::{json, parse_policy, policy_from_json, PolicyKind};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn corpus_catalog() -> Catalog {
    Catalog::load(&crate::root().join("corpus/catalog/service-reference")).unwrap()
}

fn shared_catalog_dir() -> Option<PathBuf> {
    match crate::shared_data() {
        Some(d) => Some(d.join("iam-catalog")),
        None => {
            println!("SKIP: ../shared/data is absent; tests over the full catalog need it");
            None
        }
    }
}

/// Everything a catalog says about its actions and keys, as comparable text.
fn describe(catalog: &Catalog, with_required: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for id in catalog.action_ids() {
        let def = catalog.action_def(id).unwrap();
        let service = catalog.service_of(id).unwrap();
        let resources: Vec<String> = def
            .resources
            .iter()
            .map(|r| {
                let t = &service.resource_types[r.resource_type as usize];
                let required = if with_required { format!(" required={}", r.required) } else { String::new() };
                format!("{} {:?}{required}", t.name, t.arn_formats)
            })
            .collect();
        let mut keys = def.condition_keys.clone();
        keys.sort();
        out.insert(catalog.action_name(id), format!("{} {resources:?} {keys:?}", def.access.as_str()));
    }
    for service in catalog.services() {
        for k in &service.condition_keys {
            out.insert(format!("key {}", k.name), k.key_type.name());
        }
    }
    for k in catalog.global_keys() {
        out.insert(format!("global {}", k.name), k.key_type.name());
    }
    out
}

#[test]
fn snapshot_reads_back_what_was_written() {
    let catalog = corpus_catalog();
    assert_eq!(catalog.services().len(), 4);
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let file = dir.join("catalog.json");
    catalog.write_snapshot(&file).unwrap();
    let again = Catalog::load(&file).unwrap();
    assert_eq!(describe(&catalog, true), describe(&again, true));
    assert_eq!(again.source, catalog.source);
    // Lookups work on the reloaded catalog: indexes are rebuilt, case-insensitively.
    let id = again.action("EC2:createnetworkinterface").unwrap();
    assert_eq!(again.action_name(id), "ec2:CreateNetworkInterface");
    assert!(again.key_applies(id, "aws:RequestTag/team"));
    assert!(again.key_applies(again.action("ec2:AttachVolume").unwrap(), "ec2:ResourceTag/eks:cluster-name"));
    assert!(!again.key_applies(id, "ec2:VolumeSize"));
}

#[test]
fn bad_catalogs_are_located_errors() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    std::fs::write(
        dir.join("demo.json"),
        br#"{"Name":"demo","Actions":[{"Name":"A","Resources":[{"Name":"ghost"}]}]}"#,
    )
    .unwrap();
    let e = Catalog::load(dir).err().unwrap().to_string();
    assert!(e.contains("demo.json") && e.contains("\"ghost\""), "{e}");
    std::fs::write(dir.join("demo.json"), b"{\"Name\": 3}").unwrap();
    let e = Catalog::load(dir).err().unwrap().to_string();
    assert!(e.contains("demo.json: line 1, column"), "{e}");
    let snapshot = dir.join("snap.json");
    std::fs::write(&snapshot, br#"{"format":"iamsim-catalog","version":99,"catalog":{"source":"x","services":[],"global_keys":[],"other_key_prefixes":[]}}"#)
        .unwrap();
    let e = Catalog::load(&snapshot).err().unwrap().to_string();
    assert!(e.contains("re-run `iamsim catalog import`"), "{e}");
    let scratch = crate::scratch_dir();
    let empty = scratch.path();
    assert!(Catalog::load(empty).err().unwrap().to_string().contains("no service files found"));
}

/// The full reference, re-written in AWS's service-reference format, loads
/// to the same actions, access levels, resource types and key types.
#[test]
fn both_input_formats_load_the_same_catalog() {
    let Some(dir) = shared_catalog_dir() else { return };
    let catalog = Catalog::load(&dir).unwrap();
    assert_eq!(catalog.services().len(), 457);
    assert_eq!(catalog.action_count(), 22_321);
    let scratch = crate::scratch_dir();
    let out = scratch.path();
    for service in catalog.services() {
        let actions: Vec<_> = service
            .actions
            .iter()
            .map(|a| {
                use iamsim::audit::catalog::AccessLevel as L;
                serde_json::json!({
                    "Name": a.name,
                    "ActionConditionKeys": a.condition_keys,
                    "Resources": a.resources.iter().map(|r| serde_json::json!({"Name": service.resource_types[r.resource_type as usize].name})).collect::<Vec<_>>(),
                    "Annotations": {"Properties": {
                        "IsList": a.access == L::List,
                        "IsWrite": matches!(a.access, L::Write | L::Tagging | L::PermissionsManagement),
                        "IsTaggingOnly": a.access == L::Tagging,
                        "IsPermissionManagement": a.access == L::PermissionsManagement,
                    }},
                })
            })
            .collect();
        let doc = serde_json::json!({
            "Name": service.prefix,
            "Actions": actions,
            "Resources": service.resource_types.iter().map(|t| serde_json::json!({"Name": t.name, "ARNFormats": t.arn_formats, "ConditionKeys": t.condition_keys})).collect::<Vec<_>>(),
            "ConditionKeys": service.condition_keys.iter().map(|k| serde_json::json!({"Name": k.name, "Types": [k.key_type.name()]})).collect::<Vec<_>>(),
        });
        let sub = out.join(&service.prefix);
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("{}.json", service.prefix)), doc.to_string()).unwrap();
    }
    let globals: Vec<_> = catalog
        .global_keys()
        .iter()
        .map(|k| serde_json::json!({"Name": k.name, "Types": [k.key_type.name()]}))
        .collect();
    std::fs::write(out.join("global-condition-keys.json"), serde_json::json!(globals).to_string()).unwrap();
    let again = Catalog::load(out).unwrap();
    // The published format has no "required" flag and no per-row keys; everything else must agree.
    assert_eq!(describe(&catalog, false), describe(&again, false));
    let _ = std::fs::remove_dir_all(out);
}

/// `expand` (the evaluation automaton) agrees with a direct glob over the
/// catalog for every action pattern of every AWS managed policy.
#[test]
fn expand_agrees_with_a_direct_glob_for_every_managed_pattern() {
    let Some(dir) = shared_catalog_dir() else { return };
    let catalog = Catalog::load(&dir).unwrap();
    let managed = dir.parent().unwrap().join("managed-policies");
    let mut patterns = BTreeSet::new();
    for entry in std::fs::read_dir(&managed).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "json") {
            let policy = parse_policy(&std::fs::read(&path).unwrap(), "p", PolicyKind::Identity).unwrap();
            for st in &policy.statements {
                patterns.extend(st.actions.patterns.iter().cloned());
            }
        }
    }
    let patterns: Vec<String> = patterns.into_iter().collect();
    assert!(patterns.len() > 10_000, "{} patterns", patterns.len());
    let lists: Vec<(&[String], bool)> = patterns.iter().map(|p| (std::slice::from_ref(p), false)).collect();
    let expanded = catalog.expand_lists(&lists).unwrap();
    // The direct glob, by service to keep it quick: a pattern whose prefix has
    // no wildcard can only match that service's actions (checked separately).
    let names: Vec<(ActionId, String)> = catalog.action_ids().map(|id| (id, catalog.action_name(id))).collect();
    let mut by_prefix: BTreeMap<String, Vec<&(ActionId, String)>> = BTreeMap::new();
    for n in &names {
        by_prefix.entry(n.1.split(':').next().unwrap().to_ascii_lowercase()).or_default().push(n);
    }
    let mut disagreements = Vec::new();
    let mut matched_some = 0;
    for (pattern, got) in patterns.iter().zip(&expanded) {
        let glob = tokens(pattern);
        let candidates: Vec<&(ActionId, String)> = match pattern.split_once(':') {
            Some((prefix, _)) if !prefix.contains(['*', '?']) => {
                by_prefix.get(&prefix.to_ascii_lowercase()).cloned().unwrap_or_default()
            }
            _ => names.iter().collect(),
        };
        let want: Vec<ActionId> =
            candidates.iter().filter(|(_, n)| tokens_match(&glob, n, true)).map(|(id, _)| *id).collect();
        let mut want = want;
        want.sort();
        let mut got = got.clone();
        got.sort();
        if want != got {
            disagreements.push(pattern.clone());
        }
        matched_some += usize::from(!got.is_empty());
    }
    assert!(
        disagreements.is_empty(),
        "{} patterns disagree, e.g. {:?}",
        disagreements.len(),
        &disagreements[..disagreements.len().min(5)]
    );
    // The by-service shortcut is sound: no action of another service matches a plain prefix.
    let sample = names.iter().step_by(97);
    for (_, name) in sample {
        assert!(!tokens_match(&tokens("ec2:*"), name, true) || name.to_ascii_lowercase().starts_with("ec2:"));
    }
    println!("{} managed action patterns, {matched_some} match at least one catalog action", patterns.len());
}

fn validate_file(catalog: &Catalog, path: &Path) -> Vec<iamsim::audit::catalog::validate::Finding> {
    let bytes = std::fs::read(path).unwrap();
    let root = json::parse(&bytes).unwrap();
    let policy = policy_from_json(&root, "p", PolicyKind::Identity).unwrap();
    validate(catalog, &policy, Some(&root)).unwrap()
}

/// Every check fires on the fixture, at the right path and line; the
/// expected list (reviewed by hand) is `corpus/catalog/validate/findings.expected`.
#[test]
fn validate_reports_each_kind_of_finding_where_it_is() {
    let catalog = corpus_catalog();
    let dir = crate::root().join("corpus/catalog/validate");
    let got: Vec<String> = validate_file(&catalog, &dir.join("findings.json"))
        .iter()
        .map(|f| format!("{}:{} {}[{}] {}", f.line.unwrap(), f.column.unwrap(), f.severity.as_str(), f.code, f.path))
        .collect();
    let want: Vec<String> =
        std::fs::read_to_string(dir.join("findings.expected")).unwrap().lines().map(str::to_string).collect();
    assert_eq!(got, want);
}

#[test]
fn a_clean_policy_has_no_findings() {
    let catalog = corpus_catalog();
    let doc = br#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":["ec2:CreateTags","ec2:*NetworkInterface"],"Resource":"arn:aws:ec2:*:*:network-interface/*",
       "Condition":{"StringEquals":{"aws:RequestTag/team":"net"},"ForAnyValue:StringEquals":{"aws:TagKeys":["team"]}}},
      {"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"},
      {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*",
       "Condition":{"NumericGreaterThanEquals":{"s3:TlsVersion":"1.2"},"Bool":{"aws:SecureTransport":"true"}}}]}"#;
    let root = json::parse(doc).unwrap();
    let policy = policy_from_json(&root, "p", PolicyKind::Identity).unwrap();
    let findings = validate(&catalog, &policy, Some(&root)).unwrap();
    assert!(findings.is_empty(), "{findings:#?}");
}

/// All 1,594 managed policies validate; the EKS ones have no errors. The
/// counts are printed for the record (the closing note lists what AWS's own
/// policies contain).
#[test]
fn every_managed_policy_validates() {
    let Some(dir) = shared_catalog_dir() else { return };
    let catalog = Catalog::load(&dir).unwrap();
    let managed = dir.parent().unwrap().join("managed-policies");
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&managed).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        files += 1;
        let findings = validate_file(&catalog, &path);
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name.starts_with("AmazonEKS") || name == "AmazonEBSCSIDriverPolicy" {
            let errors: Vec<_> =
                findings.iter().filter(|f| f.severity == iamsim::audit::catalog::validate::Severity::Error).collect();
            assert!(errors.is_empty(), "{name}: {errors:#?}");
        }
        for f in findings {
            *counts.entry(format!("{}[{}]", f.severity.as_str(), f.code)).or_default() += 1;
        }
    }
    assert_eq!(files, 1594);
    println!("findings over the managed policies: {counts:?}");
}

/// AWS's change history reads as access diffs: AmazonEKS_CNI_Policy v4 → v5
/// added `ec2:DescribeSubnets` (2024-03-04) and nothing else.
#[test]
fn managed_policy_history_reads_as_access_diffs() {
    let Some(dir) = shared_catalog_dir() else { return };
    let history = dir.parent().unwrap().join("managed-policies-history/managed-policies-all-versions.json.gz");
    let run = |old: &str, new: &str| {
        let o = crate::iamsim_command()
            .args(["diff", "--format", "json", "--history"])
            .arg(&history)
            .args([old, new].into_iter().filter(|a| !a.is_empty()))
            .arg("--catalog")
            .arg(&dir)
            .output()
            .unwrap();
        let doc: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stderr)));
        (o.status.code(), doc)
    };
    let subnets = serde_json::json!([{"action": "ec2:DescribeSubnets", "effect": "Allow", "resource": "*"}]);
    let (code, doc) = run("AmazonEKS_CNI_Policy@v4", "AmazonEKS_CNI_Policy@v5");
    assert_eq!(code, Some(3));
    assert_eq!(doc["new_access"], subnets);
    assert_eq!(doc["removed_access"], serde_json::json!([]));
    // Backwards, the same grant is removed access and nothing is new: exit 0.
    let (code, doc) = run("AmazonEKS_CNI_Policy@v5", "AmazonEKS_CNI_Policy@v4");
    assert_eq!(code, Some(0));
    assert_eq!(doc["removed_access"], subnets);
    assert_eq!(doc["new_access"], serde_json::json!([]));
    // AmazonEKSClusterPolicy v4 -> v5 added three EC2 reads and rewrote a
    // StringLike on a literal as StringEquals: the same access, not new.
    let (code, doc) = run("AmazonEKSClusterPolicy@v4", "AmazonEKSClusterPolicy@v5");
    assert_eq!(code, Some(3));
    let added: Vec<&str> = doc["new_access"].as_array().unwrap().iter().filter_map(|g| g["action"].as_str()).collect();
    assert_eq!(added, ["ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeInternetGateways"]);
    assert_eq!(doc["removed_access"], serde_json::json!([]));
    // Every stored step of the policy, oldest first.
    let (_, doc) = run("AmazonEKS_CNI_Policy", "");
    let steps: Vec<String> = doc.as_array().unwrap().iter().map(|d| format!("{} -> {}", d["old"], d["new"])).collect();
    assert_eq!(steps.len(), 5, "{steps:?}");
}

#[test]
fn diff_of_two_files_reports_both_directions() {
    let catalog = corpus_catalog();
    let read = |name: &str| {
        let path = crate::root().join("corpus/catalog/diff").join(name);
        parse_policy(&std::fs::read(path).unwrap(), name, PolicyKind::Identity).unwrap()
    };
    let (old, new) = (read("old.json"), read("new.json"));
    let d = diff(&catalog, std::slice::from_ref(&old), std::slice::from_ref(&new)).unwrap();
    let show = |list: &[iamsim::audit::catalog::diff::Grant]| {
        list.iter().map(|g| format!("{} {} {}", g.effect, g.action, g.resource)).collect::<Vec<_>>()
    };
    assert_eq!(show(&d.new_access), ["Deny s3:DeleteObject *", "Allow s3:PutObject arn:aws:s3:::reports/*"]);
    assert!(d.new_access[1].condition.contains("s3:x-amz-acl"));
    assert_eq!(
        show(&d.removed_access),
        [
            "Allow ec2:DescribeInstanceTypes *",
            "Allow ec2:DescribeNetworkInterfaces *",
            "Allow ec2:DescribeTags *",
            "Allow ec2:DescribeVolumes *",
            "Allow s3:GetObject arn:aws:s3:::reports/*"
        ]
    );
    let same = diff(&catalog, std::slice::from_ref(&new), std::slice::from_ref(&new)).unwrap();
    assert!(same.new_access.is_empty() && same.removed_access.is_empty());
    // Reversed, the new access becomes removed access.
    let back = diff(&catalog, std::slice::from_ref(&new), std::slice::from_ref(&old)).unwrap();
    assert_eq!(show(&back.removed_access), show(&d.new_access));
}

fn iamsim(args: &[&str], env: Option<(&str, &Path)>) -> std::process::Output {
    let mut cmd = crate::iamsim_command();
    cmd.args(args);
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn cli_import_then_use_the_snapshot_through_the_environment() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let snapshot = dir.join("catalog.json");
    let o =
        iamsim(&["catalog", "import", "corpus/catalog/service-reference", "--out", snapshot.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = iamsim(&["expand", "ec2:*NetworkInterface", "s3:Get*"], Some(("IAMSIM_CATALOG", &snapshot)));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "ec2:AttachNetworkInterface\nec2:CreateNetworkInterface\nec2:DeleteNetworkInterface\nec2:DetachNetworkInterface\ns3:GetObject\n"
    );
    // Without --catalog or the variable: a clear error.
    let o = iamsim(&["expand", "s3:*"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("IAMSIM_CATALOG"));
}

#[test]
fn cli_expand_policy_and_unmatched_patterns() {
    let cat = "corpus/catalog/service-reference";
    let o = iamsim(&["expand", "--catalog", cat, "--policy", "corpus/catalog/diff/new.json"], None);
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "ec2:DescribeInstances\nec2:DescribeSubnets\ns3:GetObject\ns3:PutObject\n"
    );
    let o = iamsim(&["expand", "--catalog", cat, "--format", "json", "iam:Pass*"], None);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        doc,
        serde_json::json!([{"action": "iam:PassRole", "access_level": "Write", "resource_types": ["role"], "wildcard_only": false}])
    );
    let o = iamsim(&["expand", "--catalog", cat, "s3:GetObjcet"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean s3:GetObject?"));
}

#[test]
fn cli_validate_exit_codes_and_json() {
    let cat = "corpus/catalog/service-reference";
    let o = iamsim(&["validate", "--catalog", cat, "--format", "json", "corpus/catalog/validate/findings.json"], None);
    assert_eq!(o.status.code(), Some(3));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["errors"], 3);
    assert_eq!(doc["files"][0]["findings"][0]["code"], "unknown-action");
    assert_eq!(doc["files"][0]["findings"][0]["line"], 7);
    // Only warnings: exit 0. A malformed policy is an error finding with its location.
    let o = iamsim(&["validate", "--catalog", cat, "corpus/catalog/diff/old.json"], None);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEqual":{"a:b":"c"}}}]}"#).unwrap();
    let o = iamsim(&["validate", "--catalog", cat, bad.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(3));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("bad.json:1:") && text.contains("error[invalid-policy] Statement[0].Condition.StringEqual"),
        "{text}"
    );
}

#[test]
fn cli_diff_exit_codes() {
    let cat = "corpus/catalog/service-reference";
    let o = iamsim(&["diff", "--catalog", cat, "corpus/catalog/diff/old.json", "corpus/catalog/diff/new.json"], None);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stdout).contains("+ s3:DeleteObject on *  (a Deny removed)"));
    let o = iamsim(&["diff", "--catalog", cat, "corpus/catalog/diff/new.json", "corpus/catalog/diff/new.json"], None);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn simulate_warns_about_actions_the_catalog_does_not_know() {
    let args = [
        "simulate",
        "--catalog",
        "corpus/catalog/service-reference",
        "--identity-policy",
        "corpus/catalog/diff/new.json",
    ];
    let o = iamsim(&[&args[..], &["--action", "s3:GetObjct", "--action", "s3:GetObject"]].concat(), None);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--action s3:GetObjct: not in the catalog (did you mean s3:GetObject?)"), "{err}");
    assert!(!err.contains("--action s3:GetObject:"), "{err}");
}

#[test]
fn validate_guesses_the_policy_kind_from_the_statements() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let identity = dir.join("identity.json");
    std::fs::write(&identity, br#"{"Version":"2012-10-17","Statement":[{"Sid":"Principal","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#).unwrap();
    let bucket = dir.join("bucket.json");
    std::fs::write(&bucket, br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#).unwrap();
    let cat = "corpus/catalog/service-reference";
    for file in [&identity, &bucket] {
        let o = iamsim(&["validate", "--catalog", cat, "--format", "json", file.to_str().unwrap()], None);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    }
    // Forcing the wrong kind is an error finding, located.
    let o = iamsim(&["validate", "--catalog", cat, "--kind", "identity", bucket.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("error[invalid-policy] Statement[0]: an identity policy cannot have `Principal`"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// The SARIF 2.1.0 JSON schema as the `serde-sarif` crate (a
/// dev-dependency, so cargo has its source) ships it: the version Cargo.lock
/// locks, in cargo's registry sources. The published schema's one erratum
/// is mended (the `language` pattern ends in `]?$`, an unbalanced bracket
/// no ECMA regex accepts).
fn sarif_schema() -> serde_json::Value {
    let lock = std::fs::read_to_string(crate::root().join("Cargo.lock")).unwrap();
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"serde-sarif\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")?.strip_suffix('"')))
        .unwrap();
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    let registries = std::fs::read_dir(home.join("registry/src")).unwrap();
    let path = registries
        .filter_map(Result::ok)
        .map(|r| r.path().join(format!("serde-sarif-{version}/src/schema.json")))
        .find(|p| p.is_file())
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text.replace("{2}]?$", "{2}$")).unwrap()
}

/// `validate --format sarif`: a SARIF 2.1.0 log, valid against the schema,
/// with one result per finding (the same findings as the JSON format), each
/// located by file, region and JSON path, under a rule per finding code.
#[test]
fn validate_writes_sarif() {
    let file = "corpus/catalog/validate/findings.json";
    let run = |format: &str| {
        let o = crate::iamsim_command()
            .args(["validate", file, "--catalog", "corpus/catalog/service-reference", "--format", format])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(3), "errors found: {}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let (sarif, json) = (run("sarif"), run("json"));
    assert_eq!(sarif["version"], "2.1.0");
    let schema = jsonschema::options().build(&sarif_schema()).unwrap();
    let errors: Vec<String> = schema.iter_errors(&sarif).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // The validator does refuse what the schema forbids.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!schema.is_valid(&broken));
    let run0 = &sarif["runs"][0];
    let rules: Vec<&str> =
        run0["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    let results = run0["results"].as_array().unwrap();
    let findings = json["files"][0]["findings"].as_array().unwrap();
    assert_eq!(results.len(), findings.len());
    for (r, f) in results.iter().zip(findings) {
        assert_eq!(r["ruleId"], f["code"]);
        assert!(rules.contains(&r["ruleId"].as_str().unwrap()));
        let level = match f["severity"].as_str().unwrap() {
            "error" => "error",
            "warning" => "warning",
            _ => "note",
        };
        assert_eq!(r["level"], level);
        let location = &r["locations"][0];
        assert_eq!(location["physicalLocation"]["artifactLocation"]["uri"], file);
        assert_eq!(location["physicalLocation"]["region"]["startLine"], f["line"]);
        assert_eq!(location["physicalLocation"]["region"]["startColumn"], f["column"]);
        assert_eq!(location["logicalLocations"][0]["fullyQualifiedName"], f["path"]);
    }
}

/// A loopback HTTP server standing in for AWS's service reference: its index
/// (`/`, a list of `{"service","url"}`) and each service's JSON, served from
/// `corpus/catalog/service-reference/`. Serves `requests` requests, then stops.
fn service_reference_server(requests: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let dir = crate::root().join("corpus/catalog/service-reference");
    let services: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json").map(str::to_string))
        .filter(|s| s != "global-condition-keys")
        .collect();
    let index: Vec<serde_json::Value> =
        services.iter().map(|s| serde_json::json!({"service": s, "url": format!("{base}/v1/{s}/{s}.json")})).collect();
    let index = serde_json::to_string(&index).unwrap();
    let server = std::thread::spawn(move || {
        let mut asked = Vec::new();
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            // The rest of the request head.
            let mut header = String::new();
            while reader.read_line(&mut header).unwrap() > 2 {
                header.clear();
            }
            let body = if path == "/" {
                Some(index.clone().into_bytes())
            } else {
                path.rsplit('/').next().and_then(|file| std::fs::read(dir.join(file)).ok())
            };
            let (status, body) = match body {
                Some(b) => ("200 OK", b),
                None => ("404 Not Found", b"not found".to_vec()),
            };
            write!(stream, "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
            stream.write_all(&body).unwrap();
            asked.push(path);
        }
        asked
    });
    (format!("{base}/"), server)
}

/// `catalog fetch` downloads the service reference (index, then each
/// service) and keeps it at the default location, where every command then
/// finds it without --catalog; `--out` writes elsewhere.
#[test]
fn catalog_fetch_keeps_the_service_reference_where_commands_look() {
    let home = tempfile::tempdir().unwrap();
    let (endpoint, server) = service_reference_server(5);
    let o = crate::iamsim_command()
        .env("XDG_DATA_HOME", home.path())
        .env_remove("IAMSIM_CATALOG")
        .args(["catalog", "fetch", "--endpoint", &endpoint])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let asked = server.join().unwrap();
    assert_eq!(asked.len(), 5, "{asked:?}");
    assert_eq!(asked[0], "/");
    let kept = home.path().join("iamsim/catalog.json");
    assert!(kept.is_file());
    // Every command looks there: expand needs a catalog and is given none.
    let o = crate::iamsim_command()
        .env("XDG_DATA_HOME", home.path())
        .env_remove("IAMSIM_CATALOG")
        .args(["expand", "s3:GetObj*"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("s3:GetObject"));
    // Without one anywhere, the error says how to get one.
    let empty = tempfile::tempdir().unwrap();
    let o = crate::iamsim_command()
        .env("XDG_DATA_HOME", empty.path())
        .env_remove("IAMSIM_CATALOG")
        .args(["expand", "s3:GetObj*"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("iamsim catalog fetch"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // An index that is not one is a clear error.
    let (endpoint, server) = service_reference_server(1);
    let o = crate::iamsim_command()
        .args(["catalog", "fetch", "--out"])
        .arg(empty.path().join("c.json"))
        .args(["--endpoint", &format!("{endpoint}v1/s3/s3.json")])
        .output()
        .unwrap();
    server.join().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("expected the service reference's index"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
