//! CloudTrail input for replay: [`reader`] streams events from log files,
//! folders, JSON Lines and stdin; [`action`] maps API calls to IAM actions;
//! [`event`] turns an event into the authorisation checks it implies.
//!
//! Beside the pipeline: builds `request`s for `eval`; depends on `policy` only
//! for value parsing.

pub mod action;
pub mod event;
mod implied;
pub mod reader;
