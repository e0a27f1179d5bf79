//! The real CloudTrail samples in `../shared/data/cloudtrail`: every event is
//! read and accounted for (checks or a named skip reason), identity types map
//! as the semantics doc §8.3 says; reading only the members the mapping reads
//! changes no mapping. Skips with a printed reason without the data.

use iamsim::audit::cloudtrail::event::{outcome, to_checks, SkipReason};
use iamsim::audit::cloudtrail::reader::{collect_files, read_file, read_file_with, Item, Members};
use iamsim::engine::request::Principal;
use std::collections::BTreeMap;

#[test]
fn every_sample_event_is_accounted_for() {
    let Some(data) = crate::shared_data() else {
        println!("SKIP: ../shared/data is absent; CloudTrail sample tests need it");
        return;
    };
    let files = collect_files(&[data.join("cloudtrail")]).unwrap().files;
    assert_eq!(files.len(), 8, "{files:?}");
    let (mut read, mut malformed, mut converted, mut checks, mut undetermined_resource) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut principals: BTreeMap<&'static str, usize> = BTreeMap::new();
    for f in &files {
        read_file(f, &mut |item| {
            read += 1;
            match item {
                Item::Malformed(at, why) => {
                    malformed += 1;
                    panic!("{at}: {why}");
                }
                Item::Skipped(at, why) => panic!("{at}: skipped: {why}"),
                Item::Event(_, v) => match to_checks(&v) {
                    Ok(c) => {
                        converted += 1;
                        checks += c.checks.len();
                        undetermined_resource += c.checks.iter().filter(|k| k.resource.is_none()).count();
                        let kind = match c.principal {
                            Principal::User { .. } => "user",
                            Principal::RoleSession { .. } => "role session",
                            Principal::Root { .. } => "root",
                            Principal::FederatedUser { .. } => "federated user",
                            Principal::Service { .. } => "service",
                            Principal::Anonymous => "anonymous",
                        };
                        *principals.entry(kind).or_default() += 1;
                    }
                    Err(reason) => {
                        let key = match reason {
                            SkipReason::UnmappedAction(_) => "unmapped action".to_string(),
                            other => other.to_string(),
                        };
                        *skipped.entry(key).or_default() += 1;
                    }
                },
            }
        })
        .unwrap();
    }
    let skipped_total: usize = skipped.values().sum();
    println!("read {read}, converted {converted} into {checks} checks ({undetermined_resource} with an underivable resource), skipped {skipped_total}: {skipped:?}; principals {principals:?}");
    assert_eq!(read, 34_585, "every event in the samples is read");
    assert_eq!(malformed, 0);
    assert_eq!(read, converted + skipped_total, "events read = converted + skipped");
    // Identity forms of the samples (data README): each modelled kind converts.
    for kind in ["user", "role session", "root", "federated user", "service"] {
        assert!(principals.get(kind).copied().unwrap_or(0) > 0, "no {kind} converted: {principals:?}");
    }
    assert!(skipped.get("identity type AWSAccount is not modelled").copied().unwrap_or(0) > 0);
    assert!(skipped.keys().any(|k| k.starts_with("not an API call")));
    assert!(principals["service"] > 20_000, "AWSService events dominate the SANS lab: {principals:?}");
}

/// Every record's mapping (checks, principal, context, or skip reason and
/// outcome) and its read position, read keeping `members`.
fn mappings(files: &[std::path::PathBuf], members: Members) -> Vec<String> {
    let mut out = Vec::new();
    for f in files {
        read_file_with(f, members, &mut |item| match item {
            Item::Event(at, v) => out.push(format!("{at}: {:?} {:?}", to_checks(&v), outcome(&v))),
            Item::Malformed(at, why) => out.push(format!("{at}: malformed: {why}")),
            Item::Skipped(at, why) => out.push(format!("{at}: skipped: {why}")),
        })
        .unwrap();
    }
    out
}

#[test]
fn records_of_the_mapped_members_map_like_whole_records() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = collect_files(&[root.join("corpus/replay/cloudtrail")]).unwrap().files;
    match crate::shared_data() {
        Some(data) => files.extend(collect_files(&[data.join("cloudtrail")]).unwrap().files),
        None => println!("SKIP (part): ../shared/data is absent; comparing on the corpus logs only"),
    }
    // Beside them, a record with every documented top-level member, to be
    // mapped both ways too (unknown members must not matter either).
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let kitchen_sink = dir.join("all-members.json");
    std::fs::write(&kitchen_sink, ALL_MEMBERS_RECORD).unwrap();
    files.push(kitchen_sink);
    let whole = mappings(&files, Members::All);
    assert!(whole.len() > 40, "{} records", whole.len());
    let mapped = mappings(&files, Members::Mapped);
    assert_eq!(mapped.len(), whole.len());
    if let Some((m, w)) = mapped.iter().zip(&whole).find(|(m, w)| m != w) {
        panic!("read keeping the mapped members:\n{m}\nread whole:\n{w}");
    }
    assert!(whole.last().is_some_and(|m| m.contains("Ok(EventChecks")), "{:?}", whole.last());
}

/// Every top-level member of a CloudTrail record (the "CloudTrail record
/// contents" page), as an S3 `PutObject` call by a role session.
const ALL_MEMBERS_RECORD: &str = r#"{"Records":[{
  "eventVersion": "1.10", "eventTime": "2026-11-01T12:00:00Z", "eventSource": "s3.amazonaws.com",
  "eventName": "PutObject", "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.9",
  "userAgent": "aws-cli/2.15", "requestParameters": {"bucketName": "b", "key": "k", "Host": "b.s3.amazonaws.com"},
  "responseElements": {"x-amz-version-id": "v1"}, "additionalEventData": {"bytesTransferredIn": 5, "SignatureVersion": "SigV4"},
  "requestID": "R1", "eventID": "E1", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": false,
  "recipientAccountId": "111122223333", "eventCategory": "Data", "errorMessage": "none", "apiVersion": "2006-03-01",
  "serviceEventDetails": {"a": 1}, "sharedEventID": "S1", "vpcEndpointId": "vpce-1", "vpcEndpointAccountId": "111122223333",
  "insightDetails": null, "annotation": "", "edgeDeviceDetails": null, "sessionCredentialFromConsole": "true",
  "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "b.s3.amazonaws.com"},
  "addendum": {"reason": "DELIVERY_DELAY"}, "eventContext": {}, "resources": [
    {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::b/k"},
    {"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::b"}],
  "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:s", "arn": "arn:aws:sts::111122223333:assumed-role/app/s",
    "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLE", "sessionContext": {
      "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": "arn:aws:iam::111122223333:role/team/app",
        "accountId": "111122223333", "userName": "app"},
      "attributes": {"creationDate": "2026-11-01T11:00:00Z", "mfaAuthenticated": "true"}, "sourceIdentity": "alice"}}
}]}"#;

/// One CloudTrail event as a log file's record.
fn record(id: &str) -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.08", "eventType": "AwsApiCall", "eventID": id,
        "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333"},
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn event_ids(path: &std::path::Path) -> (Vec<String>, Vec<String>) {
    let (mut ids, mut bad) = (Vec::new(), Vec::new());
    read_file(path, &mut |item| match item {
        Item::Event(_, v) => ids.push(v.event_id().to_string()),
        Item::Malformed(at, why) => bad.push(format!("{at}: {why}")),
        Item::Skipped(at, why) => bad.push(format!("{at}: skipped: {why}")),
    })
    .unwrap();
    (ids, bad)
}

/// Gzip is told by its magic bytes: a compressed file without `.gz` is
/// inflated, a plain file named `.gz` is read as it is, and every member of
/// a multi-member file (concatenated gzip streams, as `cat a.gz b.gz` makes)
/// is read.
#[test]
fn gzip_is_told_by_its_bytes_and_every_member_is_read() {
    let dir = crate::scratch_dir();
    let doc = |ids: &[&str]| {
        serde_json::to_vec(&serde_json::json!({"Records": ids.iter().map(|i| record(i)).collect::<Vec<_>>()})).unwrap()
    };
    let hidden = dir.path().join("compressed.json");
    std::fs::write(&hidden, gzip(&doc(&["a", "b"]))).unwrap();
    assert_eq!(event_ids(&hidden), (vec!["a".to_string(), "b".to_string()], vec![]));
    let plain = dir.path().join("plain.json.gz");
    std::fs::write(&plain, doc(&["c"])).unwrap();
    assert_eq!(event_ids(&plain), (vec!["c".to_string()], vec![]));
    // JSON Lines in two gzip members.
    let lines = |id: &str| format!("{}\n", record(id));
    let mut two = gzip(lines("d").as_bytes());
    two.extend(gzip(lines("e").as_bytes()));
    let multi = dir.path().join("lake.jsonl.gz");
    std::fs::write(&multi, two).unwrap();
    assert_eq!(event_ids(&multi), (vec!["d".to_string(), "e".to_string()], vec![]));
    // A damaged gzip tail is reported where it is, after the records before it.
    let mut cut = gzip(lines("f").as_bytes());
    cut.extend(&gzip(lines("g").as_bytes())[..12]);
    let damaged = dir.path().join("damaged.jsonl.gz");
    std::fs::write(&damaged, cut).unwrap();
    let (ids, bad) = event_ids(&damaged);
    assert_eq!(ids, ["f"]);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].contains("damaged.jsonl.gz") && bad[0].contains("read error"), "{bad:?}");
}

/// A folder tree with a symbolic link back to its root is walked once: the
/// walk ends and no file is listed twice. A file given twice (or reached
/// again) and a FIFO met in a folder are left out with their reason; `-`
/// twice and a missing path are typed errors that name the problem.
#[cfg(unix)]
#[test]
fn folder_walks_end_on_symlink_loops() {
    use iamsim::audit::cloudtrail::reader::ReadError;
    let dir = crate::scratch_dir();
    let root = dir.path().join("trail");
    std::fs::create_dir_all(root.join("2026/12")).unwrap();
    let a = root.join("2026/12/a.json");
    std::fs::write(&a, "{\"Records\":[]}").unwrap();
    std::os::unix::fs::symlink(&root, root.join("2026/12/loop")).unwrap();
    std::os::unix::fs::symlink(root.join("2026"), root.join("again")).unwrap();
    let collected = collect_files(std::slice::from_ref(&root)).unwrap();
    assert_eq!((collected.files, collected.skipped), (vec![a.clone()], vec![]));
    // The same file again, by its path and through the folder.
    let twice = collect_files(&[a.clone(), root.clone()]).unwrap();
    assert_eq!(twice.files, std::slice::from_ref(&a));
    assert_eq!(twice.skipped.len(), 1, "{:?}", twice.skipped);
    assert!(twice.skipped[0].1.contains("already read"), "{:?}", twice.skipped);
    // A FIFO named like a log file: reading it would block.
    let fifo = root.join("2026/pipe.json");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
    if made {
        let with_fifo = collect_files(std::slice::from_ref(&root)).unwrap();
        assert_eq!(with_fifo.files, std::slice::from_ref(&a));
        assert_eq!(with_fifo.skipped, [(fifo, "not a regular file (a FIFO, socket or device)")]);
    } else {
        println!("SKIP: mkfifo is not available; the FIFO case is not checked");
    }
    let dash = std::path::PathBuf::from("-");
    assert!(matches!(collect_files(&[dash.clone(), dash]), Err(ReadError::StdinTwice)));
    let missing = root.join("nope");
    let err = collect_files(std::slice::from_ref(&missing)).unwrap_err();
    assert!(matches!(&err, iamsim::audit::cloudtrail::reader::ReadError::NotFound(p) if *p == missing), "{err}");
    assert!(err.to_string().contains("nope: no such file or folder"), "{err}");
}

/// On the real samples, a proposed policy for the SANS lab's IAM user that
/// drops `s3:GetObject` and `kms:Decrypt` shows every recorded success of
/// those under a breakage class (here `would_break_unless`: the bucket and key
/// policies were not given), none of them only as indeterminate; calls by AWS
/// services are their own class; every event is accounted for.
#[test]
fn a_dropped_action_on_the_samples_shows_as_breakage() {
    let Some(data) = crate::shared_data() else {
        println!("SKIP: ../shared/data is absent; the replay of the CloudTrail samples needs it");
        return;
    };
    let user = "arn:aws:iam::342082656213:user/FalsimentisRoot";
    let logs = data.join("cloudtrail");
    // What the user's successful calls of the two actions were, read from the logs.
    let mut succeeded: BTreeMap<String, u64> = BTreeMap::new();
    for f in collect_files(std::slice::from_ref(&logs)).unwrap().files {
        read_file(&f, &mut |item| {
            if let Item::Event(_, v) = item {
                let name = v.name.as_deref().unwrap_or("");
                if v.caller_arn() == Some(user) && v.error_code.is_none() && ["GetObject", "Decrypt"].contains(&name) {
                    *succeeded.entry(name.to_string()).or_default() += 1;
                }
            }
        })
        .unwrap();
    }
    assert!(succeeded.get("GetObject").copied().unwrap_or(0) > 1_000, "{succeeded:?}");
    let scratch = crate::scratch_dir();
    let policy = scratch.path().join("proposed.json");
    std::fs::write(
        &policy,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#,
    )
    .unwrap();
    let o = crate::iamsim_command()
        .args(["replay", "--format", "json", "--cloudtrail"])
        .arg(&logs)
        .arg("--policy")
        .arg(format!("{user}={}", policy.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let broken = |action: &str| -> u64 {
        ["would_break", "would_break_unless"]
            .iter()
            .flat_map(|class| r[class].as_array().unwrap())
            .filter(|g| g["principal"] == user && g["action"] == action)
            .map(|g| g["count"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(broken("s3:GetObject"), succeeded["GetObject"]);
    assert_eq!(broken("kms:Decrypt"), succeeded["Decrypt"]);
    let sum: u64 =
        ["events_evaluated", "events_skipped", "service_principal_events"].iter().map(|k| r[k].as_u64().unwrap()).sum();
    assert_eq!(r["events_read"].as_u64(), Some(sum));
    assert_eq!(r["events_read"], 34_585);
    assert!(r["service_principal_events"].as_u64().unwrap() > 20_000, "{}", r["service_principal_calls"]);
}

/// The service reference of `../shared/data`, if present.
fn shared_catalog() -> Option<iamsim::audit::catalog::Catalog> {
    let dir = crate::shared_data()?.join("iam-catalog");
    Some(iamsim::audit::catalog::Catalog::load(&dir).unwrap())
}

/// Where the hand tables name no resource, the catalog's ARN formats are
/// filled from the event: the parameter of the variable's name, the type's
/// short name (`name` of a trail), a whole ARN, the response (what a call
/// created), an alias row; a required type left unfilled is an unknown
/// resource, never dropped.
#[test]
fn the_catalog_fills_resources_from_the_event() {
    let Some(catalog) = shared_catalog() else {
        println!("SKIP: ../shared/data is absent; the catalog-driven mapping needs its service reference");
        return;
    };
    let map = |source: &str, name: &str, params: serde_json::Value, response: serde_json::Value| {
        let e = serde_json::json!({"eventVersion": "1.08", "eventSource": source, "eventName": name,
            "awsRegion": "us-east-1", "recipientAccountId": "111122223333", "eventID": "e",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/dave", "accountId": "111122223333"},
            "requestParameters": params, "responseElements": response});
        let checks = iamsim::audit::cloudtrail::event::to_checks_with(
            &iamsim::audit::cloudtrail::record::Record::from_value(&e),
            Some(&catalog),
        )
        .unwrap()
        .checks;
        checks.into_iter().map(|c| (c.action, c.resource)).collect::<Vec<_>>()
    };
    let one = |action: &str, arn: &str| vec![(action.to_string(), Some(arn.to_string()))];
    let none = serde_json::Value::Null;
    // Alias row: the parameter's name without its leading slash.
    assert_eq!(
        map("ssm.amazonaws.com", "DeleteParameter", serde_json::json!({"name": "/app/db"}), none.clone()),
        one("ssm:DeleteParameter", "arn:aws:ssm:us-east-1:111122223333:parameter/app/db")
    );
    // `${TrailName}` of type `trail` from `name`; a name that is the trail's ARN as it is.
    assert_eq!(
        map("cloudtrail.amazonaws.com", "StopLogging", serde_json::json!({"name": "t1"}), none.clone()),
        one("cloudtrail:StopLogging", "arn:aws:cloudtrail:us-east-1:111122223333:trail/t1")
    );
    let trail = "arn:aws:cloudtrail:eu-west-1:444455556666:trail/org";
    assert_eq!(
        map("cloudtrail.amazonaws.com", "StopLogging", serde_json::json!({"name": trail}), none.clone()),
        one("cloudtrail:StopLogging", trail)
    );
    // What a call created is named in its response.
    let secret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf";
    assert_eq!(
        map(
            "secretsmanager.amazonaws.com",
            "CreateSecret",
            serde_json::json!({"name": "db"}),
            serde_json::json!({"arn": secret})
        ),
        one("secretsmanager:CreateSecret", secret)
    );
    let mut created = map(
        "ec2.amazonaws.com",
        "CreateRouteTable",
        serde_json::json!({"vpcId": "vpc-1"}),
        serde_json::json!({"routeTable": {"routeTableId": "rtb-1"}}),
    );
    created.sort();
    assert_eq!(
        created,
        [
            (
                "ec2:CreateRouteTable".to_string(),
                Some("arn:aws:ec2:us-east-1:111122223333:route-table/rtb-1".to_string())
            ),
            ("ec2:CreateRouteTable".to_string(), Some("arn:aws:ec2:us-east-1:111122223333:vpc/vpc-1".to_string())),
        ]
    );
    // Without the response, the route table (a required type) is unknown, not dropped.
    let partial = map("ec2.amazonaws.com", "CreateRouteTable", serde_json::json!({"vpcId": "vpc-1"}), none.clone());
    assert!(partial.contains(&("ec2:CreateRouteTable".to_string(), None)), "{partial:?}");
    assert!(partial.contains(&(
        "ec2:CreateRouteTable".to_string(),
        Some("arn:aws:ec2:us-east-1:111122223333:vpc/vpc-1".to_string())
    )));
    // EC2 lists (`groupSet.items[].groupId`, alias SecurityGroupId ← groupId).
    assert_eq!(
        map("ec2.amazonaws.com", "DeleteSecurityGroup", serde_json::json!({"groupId": "sg-1"}), none.clone()),
        one("ec2:DeleteSecurityGroup", "arn:aws:ec2:us-east-1:111122223333:security-group/sg-1")
    );
    // Tagging: each id's type by its prefix; images carry no account; an
    // unknown prefix leaves the call's resources unknown.
    let tags = |ids: &[&str]| {
        let items: Vec<serde_json::Value> = ids.iter().map(|i| serde_json::json!({"resourceId": i})).collect();
        map("ec2.amazonaws.com", "CreateTags", serde_json::json!({"resourcesSet": {"items": items}}), none.clone())
    };
    assert_eq!(
        tags(&["ami-1", "i-2"]),
        [
            ("ec2:CreateTags".to_string(), Some("arn:aws:ec2:us-east-1::image/ami-1".to_string())),
            ("ec2:CreateTags".to_string(), Some("arn:aws:ec2:us-east-1:111122223333:instance/i-2".to_string())),
        ]
    );
    assert!(tags(&["i-2", "frob-3"]).iter().all(|(_, r)| r.is_none()), "{:?}", tags(&["i-2", "frob-3"]));
    // Log streams, not their group; policies with their path.
    assert_eq!(
        map(
            "logs.amazonaws.com",
            "PutLogEvents",
            serde_json::json!({"logGroupName": "g", "logStreamName": "s"}),
            none.clone()
        ),
        one("logs:PutLogEvents", "arn:aws:logs:us-east-1:111122223333:log-group:g:log-stream:s")
    );
    assert_eq!(
        map(
            "iam.amazonaws.com",
            "CreatePolicy",
            serde_json::json!({"policyName": "p", "path": "/team/"}),
            none.clone()
        ),
        one("iam:CreatePolicy", "arn:aws:iam::111122223333:policy/team/p")
    );
    assert_eq!(
        map(
            "rds.amazonaws.com",
            "DescribeDBInstances",
            serde_json::json!({"dBInstanceIdentifier": "db1"}),
            none.clone()
        ),
        one("rds:DescribeDBInstances", "arn:aws:rds:us-east-1:111122223333:db:db1")
    );
    // A launch's security groups and interfaces, chosen by EC2 when the
    // request names none, are in the response's instance items; a name
    // there (the group's) fills no resource group.
    let launched = serde_json::json!({"instancesSet": {"items": [
        {"instanceId": "i-1", "subnetId": "subnet-1", "groupSet": {"items": [{"groupId": "sg-1", "groupName": "default"}]},
         "networkInterfaceSet": {"items": [{"networkInterfaceId": "eni-1",
            "groupSet": {"items": [{"groupId": "sg-1", "groupName": "default"}]}}]}},
        {"instanceId": "i-2", "subnetId": "subnet-1", "groupSet": {"items": [{"groupId": "sg-1", "groupName": "default"}]},
         "networkInterfaceSet": {"items": [{"networkInterfaceId": "eni-2"}]}}]}});
    let params = serde_json::json!({"instancesSet": {"items": [{"imageId": "ami-1", "minCount": 2, "maxCount": 2}]},
        "instanceType": "t3.micro"});
    let mut run = map("ec2.amazonaws.com", "RunInstances", params.clone(), launched);
    run.sort();
    let arn = |r: &str| ("ec2:RunInstances".to_string(), Some(format!("arn:aws:ec2:us-east-1:111122223333:{r}")));
    let image = ("ec2:RunInstances".to_string(), Some("arn:aws:ec2:us-east-1::image/ami-1".to_string()));
    assert_eq!(
        run,
        [
            arn("instance/i-1"),
            arn("instance/i-2"),
            arn("network-interface/eni-1"),
            arn("network-interface/eni-2"),
            arn("security-group/sg-1"),
            arn("subnet/subnet-1"),
            image,
        ],
    );
    // A failed launch has no response: what EC2 would have chosen is unknown.
    let failed = map("ec2.amazonaws.com", "RunInstances", params, none.clone());
    assert!(failed.contains(&("ec2:RunInstances".to_string(), None)), "{failed:?}");
    // A created security group is named by its id in the response.
    assert_eq!(
        map(
            "ec2.amazonaws.com",
            "CreateSecurityGroup",
            serde_json::json!({"groupName": "web", "groupDescription": "d"}),
            serde_json::json!({"_return": true, "groupId": "sg-9"})
        ),
        one("ec2:CreateSecurityGroup", "arn:aws:ec2:us-east-1:111122223333:security-group/sg-9")
    );
    // A copy's response names the copy alone; its source is a request
    // member of another name: the snapshot stays unknown, not the copy alone.
    let copy = map(
        "rds.amazonaws.com",
        "CopyDBSnapshot",
        serde_json::json!({"sourceDBSnapshotIdentifier": "original", "targetDBSnapshotIdentifier": "copy"}),
        serde_json::json!({"dBSnapshotIdentifier": "copy", "status": "copying"}),
    );
    assert!(copy.contains(&("rds:CopyDBSnapshot".to_string(), None)), "{copy:?}");
}

/// #16's conformance figure on the real samples: the checks whose action the
/// service reference knows and whose resource is `*` for an action that
/// takes none or fits one of its resource types; at least 99.5 %, every
/// miss listed.
#[test]
fn conformance_with_the_service_reference_on_the_samples() {
    let Some(data) = crate::shared_data() else {
        println!("SKIP: ../shared/data is absent; the conformance figure needs the samples and the catalog");
        return;
    };
    let o = crate::iamsim_command()
        .args(["replay", "--format", "json", "--cloudtrail"])
        .arg(data.join("cloudtrail"))
        .arg("--catalog")
        .arg(data.join("iam-catalog"))
        .args(["--authorization-details", "corpus/replay/authorization-details.json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &r["conformance"];
    let (checks, conforming) = (c["checks"].as_u64().unwrap(), c["conforming"].as_u64().unwrap());
    let misses = c["misses"].as_array().unwrap();
    println!(
        "conformance: {conforming} of {checks} checks ({:.3} %), {} miss rows; {:.3} % where the record names parameters or resources",
        c["share"].as_f64().unwrap() * 100.0,
        misses.len(),
        c["share_where_logged"].as_f64().unwrap() * 100.0
    );
    for m in misses.iter().take(20) {
        println!("  {} {} {} {} {}", m["count"], m["event_source"], m["event_name"], m["action"], m["kind"]);
    }
    let listed: u64 = misses.iter().map(|m| m["count"].as_u64().unwrap()).sum();
    assert_eq!(listed + c["unlisted"].as_u64().unwrap(), checks - conforming, "every miss is listed or counted");
    assert!(conforming as f64 >= 0.995 * checks as f64, "conformance {conforming}/{checks} is under 99.5 %");
}

/// #16: `generate` from a replay of the real samples gives a policy that
/// `validate` passes with no error, and its proof holds; actions the service
/// reference does not know (internal event names) are left out with a warning.
#[test]
fn generate_from_the_samples_validates() {
    let Some(data) = crate::shared_data() else {
        println!("SKIP: ../shared/data is absent; generating from the samples needs them");
        return;
    };
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let admin = dir.join("admin.json");
    std::fs::write(&admin, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        .unwrap();
    let user = "arn:aws:iam::123837392027:user/bert-jan";
    let (report, policy) = (dir.join("report.json"), dir.join("policy.json"));
    let o = crate::iamsim_command()
        .args(["replay", "--cloudtrail"])
        .arg(data.join("cloudtrail"))
        .arg("--catalog")
        .arg(data.join("iam-catalog"))
        .arg("--policy")
        .arg(format!("{user}={}", admin.display()))
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = crate::iamsim_command()
        .args(["generate", "--from-replay"])
        .arg(&report)
        .args(["--principal", user, "--out"])
        .arg(&policy)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("left out 1 action(s)") && err.contains("s3:GetStorageLensDashboardDataInternal"), "{err}");
    assert!(err.contains("proof: replayed 34585 events; none of the"), "{err}");
    let o = crate::iamsim_command()
        .args(["validate", "--format", "json", "--catalog"])
        .arg(data.join("iam-catalog"))
        .arg(&policy)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "validate found errors: {out}");
    assert!(!out.contains("\"error\""), "{out}");
}

/// The table [`one_event_per_service_is_pinned`] compares with.
const SAMPLE_MAPPINGS: &str = "corpus/conformance/sample-mappings.tsv";

/// #16: the mapping of one event per event source of the real samples (the
/// first that is an API call, in file order), with the shared catalog, is
/// the reviewed table `corpus/conformance/sample-mappings.tsv`: eventSource,
/// eventName, eventID, then each check as `action resource` (`?` for an
/// unknown resource). `IAMSIM_BLESS=1` rewrites the table after a deliberate
/// change, to be reviewed in the diff.
#[test]
fn one_event_per_service_is_pinned() {
    let (Some(data), Some(catalog)) = (crate::shared_data(), shared_catalog()) else {
        println!("SKIP: ../shared/data is absent; the per-service mapping pins need the samples");
        return;
    };
    let mut rows: BTreeMap<String, String> = BTreeMap::new();
    for f in collect_files(&[data.join("cloudtrail")]).unwrap().files {
        read_file(&f, &mut |item| {
            let Item::Event(_, v) = item else { return };
            let source = v.source.as_deref().unwrap_or("").to_string();
            if source.is_empty() || rows.contains_key(&source) {
                return;
            }
            let Ok(c) = iamsim::audit::cloudtrail::event::to_checks_with(&v, Some(&catalog)) else { return };
            let checks: Vec<String> =
                c.checks.iter().map(|k| format!("{} {}", k.action, k.resource.as_deref().unwrap_or("?"))).collect();
            rows.insert(source.clone(), format!("{source}\t{}\t{}\t{}", c.name, c.event_id, checks.join("\t")));
        })
        .unwrap();
    }
    let table: String = rows.values().map(|r| format!("{r}\n")).collect();
    let path = crate::root().join(SAMPLE_MAPPINGS);
    if std::env::var_os("IAMSIM_BLESS").is_some() {
        std::fs::write(&path, &table).unwrap();
    }
    let pinned = std::fs::read_to_string(&path).unwrap();
    assert!(rows.len() >= 40, "{} event sources mapped", rows.len());
    for (want, got) in pinned.lines().zip(table.lines()) {
        assert_eq!(got, want, "mapping changed; review, then IAMSIM_BLESS=1 to rewrite {SAMPLE_MAPPINGS}");
    }
    assert_eq!(pinned.lines().count(), table.lines().count());
}
