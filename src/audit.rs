//! The applications built on the [`engine`](crate::engine): they use only
//! its public API.
//!
//! * [`catalog`]: the AWS service reference (actions, resource types,
//!   condition keys) and what is built on it: expand, validate, diff;
//! * [`cloudtrail`]: read CloudTrail files and turn each event into the
//!   authorisation checks it implies; [`lines`]: bounded JSON Lines reading;
//! * [`inventory`]: an account's principals and their policies
//!   (`get-account-authorization-details`);
//! * [`replay`]: CloudTrail against current or proposed policies: what would
//!   break, what is never used;
//! * [`generate`]: least-privilege policies from what a replay saw;
//! * [`access`]: access queries over whole accounts: who can do an action
//!   on a resource, what a principal can do, what it can do to one resource;
//! * [`workload`]: synthetic request and CloudTrail workloads for benchmarks.

pub mod access;
pub mod catalog;
pub mod cloudtrail;
pub mod generate;
pub mod inventory;
pub mod lines;
pub mod replay;
pub mod resource_policies;
pub mod sessions;
pub mod workload;
