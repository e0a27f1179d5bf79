//! `Resource`/`NotResource` patterns compiled into segment-aware ARN matchers
//! (semantics doc §3.2): header segments compared case-insensitively without
//! crossing colons, the resource segment case-sensitively; patterns with policy
//! variables kept as templates resolved per request.

use super::glob::Glob;
use crate::engine::policy::variables::Template;
use crate::engine::policy::{ArnPattern, PolicyKind};

/// One compiled resource pattern.
#[derive(Clone, Debug)]
pub enum ResourceMatcher {
    /// `*`: every resource, including `*`.
    Any,
    /// A pattern that can never match (invalid short ARN for its policy kind).
    Never,
    /// An ARN pattern.
    Arn {
        /// partition, service, region, account.
        header: Box<[Glob; 4]>,
        /// The resource segment.
        resource: Segment,
    },
}

/// The resource segment of an ARN pattern.
#[derive(Clone, Debug)]
pub enum Segment {
    /// No policy variables.
    Static(Glob),
    /// With policy variables, resolved per request.
    Template(Template),
}

impl ResourceMatcher {
    /// Compiles one pattern of a policy of `kind`.
    pub fn new(pattern: &str, kind: PolicyKind, variables: bool) -> ResourceMatcher {
        if pattern == "*" {
            return ResourceMatcher::Any;
        }
        let Some(p) = ArnPattern::parse(pattern, kind) else {
            return ResourceMatcher::Never;
        };
        let [a, b, c, d] = &p.header;
        let template = Template::parse(&p.resource, variables);
        let resource = if template.has_variables()
            || template.pieces.iter().any(|x| !matches!(x, crate::engine::policy::variables::Piece::Glob(_)))
        {
            Segment::Template(template)
        } else {
            Segment::Static(Glob::new(&p.resource))
        };
        ResourceMatcher::Arn { header: Box::new([Glob::new(a), Glob::new(b), Glob::new(c), Glob::new(d)]), resource }
    }
}
