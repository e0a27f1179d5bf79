//! CloudTrail input for replay: [`reader`] streams events from log files,
//! folders, JSON Lines and stdin; [`action`] maps API calls to IAM actions;
//! [`event`] turns an event into the authorisation checks it implies.
//!
//! Beside the pipeline: builds `request`s for `eval`; depends on `policy` only
//! for value parsing.
//!
//! ```
//! use iamsim::audit::cloudtrail::{event::to_checks, reader::{read_stream, Item}};
//! let log = br#"{"Records": [
//!   {"eventVersion": "1.08", "eventType": "AwsApiCall", "eventID": "e1",
//!    "eventSource": "ec2.amazonaws.com", "eventName": "DeleteVolume", "awsRegion": "us-west-2",
//!    "requestParameters": {"volumeId": "vol-1"},
//!    "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice",
//!                     "accountId": "111122223333"}},
//!   42]}"#;
//! let (mut checks, mut malformed) = (Vec::new(), Vec::new());
//! read_stream(&log[..], "log.json", &mut |item| match item {
//!     Item::Event(_, event) => checks.extend(to_checks(&event).unwrap().checks),
//!     Item::Malformed(at, why) => malformed.push(format!("{at}: {why}")),
//!     Item::Skipped(at, why) => malformed.push(format!("{at}: skipped: {why}")),
//! });
//! assert_eq!(checks[0].action, "ec2:DeleteVolume");
//! assert_eq!(checks[0].resource.as_deref(), Some("arn:aws:ec2:us-west-2:111122223333:volume/vol-1"));
//! assert_eq!(malformed, ["log.json record 1: record is not a JSON object but a number"]);
//! ```

pub mod action;
mod derive;
pub mod event;
mod implied;
pub mod reader;
pub mod record;
