//! Python bindings (feature `python`): the extension module
//! `iamsim._iamsim`, which the Python package in `src/python/iamsim`
//! re-exports. Beside the pipeline, like the CLI: it uses only the
//! library's public API and turns its errors into Python exceptions.
//!
//! * the engine: `parse_policy`, `PolicySet`, `CompiledPolicySet` with
//!   `decide`, `verdict`, `decide_many` (rayon threads, the GIL released)
//!   and `decide_arrow` (pyarrow tables in and out: rows read from Arrow
//!   memory, no Python object per row);
//! * the audit applications: `Catalog` (expand, validate) and `Account`
//!   (who_can, principal_can, can_access), answering with the fields of the
//!   CLI's `--format json`.
//!
//! A [`Request`] is built once from its Python arguments; a `Decision`
//! holds the engine's decision and names its statements and keys only when
//! asked.

use crate::engine::eval::{batch, Decision, DecisionKind};
use crate::engine::policy::{parse_policy as parse, Layer, ParseError, Policy, PolicyKind, PolicySet};
use crate::engine::request::{
    Context, KeyNames, Principal, Request, RequestError as EngineRequestError, UserCredentials,
};
use crate::CompiledPolicySet;
use arrow_array::RecordBatch;
use arrow_pyarrow::{FromPyArrow, ToPyArrow};
use arrow_schema::{DataType, Field, Schema};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use std::sync::Arc;

/// The extension's own Rust allocations (requests, contexts, answers) go
/// to mimalloc, as the CLI's do: the many small strings of a batch, built
/// and freed on several threads at once, contend in the C library's
/// allocator (benches/README.md, "Python").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pyo3::create_exception!(
    iamsim,
    PolicyError,
    PyValueError,
    "A policy document that does not parse: `file`, `line`, `column` (1-based, None when unknown), `path` (the JSON path) and `kind` say where and what."
);

pyo3::create_exception!(
    iamsim,
    RequestError,
    PyValueError,
    "A request that cannot be read: a malformed principal, context or JSON."
);

/// A [`ParseError`] as a [`PolicyError`] with its location as attributes.
fn policy_error(py: Python<'_>, e: &ParseError) -> PyErr {
    let err = PolicyError::new_err(e.to_string());
    let value = err.value(py);
    let span = e.span();
    // Setting attributes on a fresh exception instance cannot fail in
    // practice; if it did, the message still says everything.
    let _ = value.setattr("file", e.source_name());
    let _ = value.setattr("path", e.path());
    let _ = value.setattr("line", span.map(|s| s.line));
    let _ = value.setattr("column", span.map(|s| s.column));
    let _ = value.setattr("kind", format!("{:?}", e.kind()));
    err
}

fn request_error(e: &EngineRequestError) -> PyErr {
    RequestError::new_err(e.to_string())
}

/// `kind` as the parser names it.
fn policy_kind(kind: &str) -> PyResult<PolicyKind> {
    Ok(match kind {
        "identity" => PolicyKind::Identity,
        "resource" => PolicyKind::Resource,
        "permissions_boundary" | "boundary" => PolicyKind::PermissionsBoundary,
        "session" => PolicyKind::Session,
        "scp" => PolicyKind::Scp,
        "rcp" => PolicyKind::Rcp,
        // A role's trust policy is a resource-based policy (§1.3).
        "trust" => PolicyKind::Resource,
        other => {
            return Err(PyValueError::new_err(format!(
                "kind `{other}`: expected identity, resource, permissions_boundary, session, scp, rcp or trust"
            )))
        }
    })
}

/// Text or bytes, as bytes.
fn document_bytes(document: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = document.cast::<PyString>() {
        return Ok(s.to_cow()?.as_bytes().to_vec());
    }
    if let Ok(b) = document.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err("a policy document is str or bytes (its JSON text)"))
}

/// A parsed, validated policy document.
#[pyclass(name = "Policy", module = "iamsim", frozen)]
pub struct PyPolicy {
    inner: Policy,
}

#[pymethods]
impl PyPolicy {
    /// The name given when parsing (usually the file name).
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// The kind it was parsed as.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }

    /// How many statements it has.
    #[getter]
    fn statement_count(&self) -> usize {
        self.inner.statements.len()
    }

    /// The document as normalised JSON text.
    fn to_json(&self) -> String {
        self.inner.to_json().to_string()
    }

    fn __repr__(&self) -> String {
        format!("Policy(name={:?}, kind={:?}, statements={})", self.inner.name, self.kind(), self.statement_count())
    }
}

/// Parses one policy document.
#[pyfunction]
#[pyo3(signature = (document, name = "policy", kind = "identity"))]
fn parse_policy(py: Python<'_>, document: &Bound<'_, PyAny>, name: &str, kind: &str) -> PyResult<PyPolicy> {
    let bytes = document_bytes(document)?;
    let kind = policy_kind(kind)?;
    parse(&bytes, name, kind).map(|inner| PyPolicy { inner }).map_err(|e| policy_error(py, &e))
}

/// The policies that apply to requests, by layer; compiled once.
#[pyclass(name = "PolicySet", module = "iamsim", frozen)]
pub struct PyPolicySet {
    inner: PolicySet,
}

fn policies_of(list: Vec<PyRef<'_, PyPolicy>>) -> Vec<Policy> {
    list.iter().map(|p| p.inner.clone()).collect()
}

/// Resource policies given as resource ARN → `Policy`.
fn resource_policies_of(
    given: Option<std::collections::BTreeMap<String, PyRef<'_, PyPolicy>>>,
) -> std::collections::BTreeMap<String, Policy> {
    given.unwrap_or_default().into_iter().map(|(arn, p)| (arn, p.inner.clone())).collect()
}

/// A context given as a Python mapping (key → value or list of values),
/// read through its JSON text by the reader the CLI uses, with its checks
/// (a key given twice in any case is refused). None: no context.
fn context_of(given: Option<&Bound<'_, PyAny>>) -> PyResult<Context> {
    let Some(given) = given.filter(|c| !c.is_none()) else { return Ok(Context::new()) };
    let text: String = given.py().import("json")?.call_method1("dumps", (given,))?.extract()?;
    Context::from_json_text(&text).map_err(|e| request_error(&e))
}

#[pymethods]
impl PyPolicySet {
    #[new]
    #[pyo3(signature = (identity = Vec::new(), permissions_boundary = None, session = None, resource = None, scps = Vec::new(), rcps = Vec::new()))]
    fn new(
        identity: Vec<PyRef<'_, PyPolicy>>,
        permissions_boundary: Option<PyRef<'_, PyPolicy>>,
        session: Option<Vec<PyRef<'_, PyPolicy>>>,
        resource: Option<PyRef<'_, PyPolicy>>,
        scps: Vec<Vec<PyRef<'_, PyPolicy>>>,
        rcps: Vec<Vec<PyRef<'_, PyPolicy>>>,
    ) -> PyPolicySet {
        PyPolicySet {
            inner: PolicySet {
                identity: policies_of(identity),
                permissions_boundary: permissions_boundary.map(|p| p.inner.clone()),
                session: session.map(policies_of),
                resource: resource.map(|p| p.inner.clone()),
                scps: scps.into_iter().map(policies_of).collect(),
                rcps: rcps.into_iter().map(policies_of).collect(),
                organization: Default::default(),
            },
        }
    }

    /// A set from an `eval` bundle's JSON text (`{"identity": […],
    /// "permissions_boundary": …, "resource_policy": …, "scps": [[…]], …}`).
    #[staticmethod]
    #[pyo3(signature = (bundle, name = "bundle"))]
    fn from_bundle(py: Python<'_>, bundle: &Bound<'_, PyAny>, name: &str) -> PyResult<PyPolicySet> {
        let bytes = document_bytes(bundle)?;
        PolicySet::from_bundle(&bytes, name).map(|inner| PyPolicySet { inner }).map_err(|e| policy_error(py, &e))
    }

    /// Compiles the set (automata, matchers, predicates) for deciding.
    fn compile(&self, py: Python<'_>) -> PyResult<PyCompiled> {
        let set = self.inner.clone();
        let compiled = py.detach(|| CompiledPolicySet::compile(set));
        compiled.map(|c| PyCompiled { inner: Arc::new(c) }).map_err(|e| PyValueError::new_err(e.to_string()))
    }
}

/// One request: who, what, on which resource, with which context.
#[pyclass(name = "Request", module = "iamsim", frozen)]
pub struct PyRequest {
    inner: Request,
}

#[pymethods]
impl PyRequest {
    /// `principal`: a user, role, assumed-role, federated-user or root ARN,
    /// an account id, a service principal or `anonymous`. `context`: key →
    /// value or list of values. `open_world`: keys not in `context` are
    /// unknown rather than absent. `user_credentials`: `long_term`
    /// (default), `session_token` or `unknown`.
    #[new]
    #[pyo3(signature = (principal, action, resource, context = None, resource_account = None, open_world = false, user_credentials = "long_term"))]
    fn new(
        principal: &str,
        action: &str,
        resource: &str,
        context: Option<&Bound<'_, PyAny>>,
        resource_account: Option<String>,
        open_world: bool,
        user_credentials: &str,
    ) -> PyResult<PyRequest> {
        let principal = Principal::parse(principal).map_err(|e| request_error(&e))?;
        let mut req = Request::new(principal, action, resource);
        req.resource_account = resource_account;
        req.user_credentials = match user_credentials {
            "long_term" => UserCredentials::Unlimited,
            "session_token" => UserCredentials::SessionToken,
            "unknown" => UserCredentials::Unknown,
            other => {
                return Err(PyValueError::new_err(format!(
                    "user_credentials `{other}`: expected long_term, session_token or unknown"
                )))
            }
        };
        let ctx = context_of(context)?;
        req.context = if open_world { ctx.into_open_world() } else { ctx };
        Ok(PyRequest { inner: req })
    }

    /// A request from an `eval` line's JSON text
    /// (`{"principal","action","resource","resource_account"?,"context"?}`).
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<PyRequest> {
        Request::from_json_text(text).map(|inner| PyRequest { inner }).map_err(|e| request_error(&e))
    }

    /// The action.
    #[getter]
    fn action(&self) -> &str {
        &self.inner.action
    }

    /// The resource.
    #[getter]
    fn resource(&self) -> &str {
        &self.inner.resource
    }

    /// The principal as reports name it.
    #[getter]
    fn principal(&self) -> &str {
        self.inner.principal.display_name()
    }

    fn __repr__(&self) -> String {
        format!("Request(principal={:?}, action={:?}, resource={:?})", self.principal(), self.action(), self.resource())
    }
}

/// One statement that decided a request.
#[pyclass(name = "MatchedStatement", module = "iamsim", frozen, get_all, skip_from_py_object)]
#[derive(Clone)]
pub struct PyMatchedStatement {
    /// `identity`, `permissions_boundary`, `session`, `resource`, `scp/N`, `rcp/N`.
    layer: String,
    /// Index of the policy in its layer (its level for SCPs and RCPs).
    policy_index: u32,
    /// Index of the statement in the policy.
    statement_index: u32,
    /// The policy's name.
    policy: String,
    /// The statement's Sid.
    sid: Option<String>,
    /// `Allow` or `Deny`.
    effect: &'static str,
}

#[pymethods]
impl PyMatchedStatement {
    fn __repr__(&self) -> String {
        format!(
            "MatchedStatement({} {}:{}:{} {:?})",
            self.effect, self.layer, self.policy_index, self.statement_index, self.policy
        )
    }
}

/// A decision with its explanation, read on demand: a batch of decisions
/// costs one small object each until their statements are asked for.
#[pyclass(name = "Decision", module = "iamsim", frozen)]
pub struct PyDecision {
    set: Arc<CompiledPolicySet>,
    inner: Decision,
}

#[pymethods]
impl PyDecision {
    /// `allowed`, `explicitDeny`, `implicitDeny` or `indeterminate`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }

    /// Whether the request is allowed.
    #[getter]
    fn allowed(&self) -> bool {
        self.inner.kind == DecisionKind::Allowed
    }

    /// The statements that decided it.
    #[getter]
    fn statements(&self) -> Vec<PyMatchedStatement> {
        let policies = self.set.policy_set();
        self.inner
            .statements
            .iter()
            .filter_map(|r| {
                let (policy, stmt) = policies.get(*r)?;
                Some(PyMatchedStatement {
                    layer: layer_label(r.layer),
                    policy_index: r.policy,
                    statement_index: r.statement,
                    policy: policy.name.clone(),
                    sid: stmt.sid.clone(),
                    effect: stmt.effect.as_str(),
                })
            })
            .collect()
    }

    /// Condition keys (lower-cased) the request lacked.
    #[getter]
    fn missing_context_keys(&self) -> Vec<String> {
        self.keys(&self.inner.missing_keys)
    }

    /// Condition keys (lower-cased) the request left unknown.
    #[getter]
    fn unknown_context_keys(&self) -> Vec<String> {
        self.keys(&self.inner.unknown_keys)
    }

    /// For an implicit deny: the layer no statement of which allows it.
    #[getter]
    fn missing_allow(&self) -> Option<String> {
        self.inner.missing_allow.map(layer_label)
    }

    /// For an indeterminate decision: the IAM user's credentials (given as
    /// `user_credentials="unknown"`) may be refused for this action.
    #[getter]
    fn unknown_credentials(&self) -> bool {
        self.inner.unknown_credentials
    }

    fn __repr__(&self) -> String {
        format!("Decision({}, statements={})", self.kind(), self.inner.statements.len())
    }
}

impl PyDecision {
    fn keys(&self, ids: &[crate::engine::eval::KeyId]) -> Vec<String> {
        ids.iter().filter_map(|k| self.set.key_name(*k)).map(str::to_string).collect()
    }
}

fn layer_label(layer: Layer) -> String {
    let mut label = String::new();
    push_layer_label(&mut label, layer);
    label
}

/// [`layer_label`] appended to `out` (no allocation: an Arrow answer writes
/// one per deciding statement).
fn push_layer_label(out: &mut String, layer: Layer) {
    let (name, level) = match layer {
        Layer::Scp(l) => ("scp/", l),
        Layer::Rcp(l) => ("rcp/", l),
        other => return out.push_str(other.kind().as_str()),
    };
    out.push_str(name);
    out.push_str(itoa::Buffer::new().format(level));
}

/// A compiled policy set: immutable, shared by every thread.
#[pyclass(name = "CompiledPolicySet", module = "iamsim", frozen)]
pub struct PyCompiled {
    inner: Arc<CompiledPolicySet>,
}

#[pymethods]
impl PyCompiled {
    /// Decides one request, explained.
    fn decide(&self, request: &PyRequest) -> PyDecision {
        let set = &self.inner;
        let inner = batch::with_thread_scratch(set, |scratch| set.decide(&request.inner, scratch));
        PyDecision { set: Arc::clone(set), inner }
    }

    /// The verdict alone: `allowed`, `explicitDeny`, `implicitDeny` or `indeterminate`.
    fn verdict(&self, request: &PyRequest) -> &'static str {
        let set = &self.inner;
        batch::with_thread_scratch(set, |scratch| set.decide_verdict(&request.inner, scratch)).as_str()
    }

    /// Decides every request in parallel with the GIL released; the
    /// decisions in the requests' order.
    fn decide_many(&self, py: Python<'_>, requests: Vec<Bound<'_, PyRequest>>) -> Vec<PyDecision> {
        // Frozen objects: their requests are read in place, not copied,
        // while the list (held here) keeps them alive.
        let held: Vec<&Request> = requests.iter().map(|r| &r.get().inner).collect();
        let set = &self.inner;
        let decided = py.detach(|| batch::decide_all(set, &held));
        decided.into_iter().map(|inner| PyDecision { set: Arc::clone(set), inner }).collect()
    }

    /// How many statements the set holds.
    #[getter]
    fn statement_count(&self) -> usize {
        self.inner.statement_count()
    }

    /// Decides a `pyarrow.Table` or `pyarrow.RecordBatch` of requests
    /// (string columns `principal`, `action`, `resource`; optional
    /// `resource_account` and `context`, a JSON object per row or a struct
    /// whose fields are the keys) without a Python object per row: each
    /// batch is read from Arrow memory, decided in parallel with the GIL
    /// released, and answered as a batch of `decision`, `statements`
    /// (`layer:policy:statement` labels), `missing_context_keys` and
    /// `unknown_context_keys`, row for row. A table comes back as a table of
    /// the same row count.
    #[pyo3(signature = (data, open_world = false))]
    fn decide_arrow<'py>(&self, data: &Bound<'py, PyAny>, open_world: bool) -> PyResult<Bound<'py, PyAny>> {
        let py = data.py();
        let table = py.import("pyarrow")?.getattr("Table")?;
        if data.is_instance(&table)? {
            let batches: Vec<Bound<'py, PyAny>> = data.call_method0("to_batches")?.extract()?;
            let mut decided = Vec::with_capacity(batches.len());
            let mut first_row = 0usize;
            for b in &batches {
                let batch = RecordBatch::from_pyarrow_bound(b)?;
                let rows = batch.num_rows();
                decided.push(self.decide_batch(py, &batch, open_world, first_row)?.to_pyarrow(py)?);
                first_row += rows;
            }
            let schema = decisions_schema().to_pyarrow(py)?;
            return table.call_method1("from_batches", (decided, schema));
        }
        let batch = RecordBatch::from_pyarrow_bound(data)?;
        self.decide_batch(py, &batch, open_world, 0)?.to_pyarrow(py)
    }
}

impl PyCompiled {
    /// One record batch of requests decided; `first_row` numbers the rows in errors.
    /// Reading the rows, deciding them and writing the answers all run in
    /// parallel with the GIL released.
    fn decide_batch(
        &self,
        py: Python<'_>,
        batch: &RecordBatch,
        open_world: bool,
        first_row: usize,
    ) -> PyResult<RecordBatch> {
        use rayon::prelude::*;
        let columns = Columns::of(batch)?;
        let set = &self.inner;
        let answered = py.detach(|| {
            // A few long runs of rows per thread: each run has one reader,
            // whose parsed principals and contexts its later rows reuse,
            // and writes its own answer columns (no decision per row kept).
            let rows = batch.num_rows();
            let run = (rows / (4 * rayon::current_num_threads())).max(1024);
            let parts = (0..rows.div_ceil(run))
                .into_par_iter()
                .map(|i| {
                    let mut reader = RowReader::new(set, &columns);
                    let mut answers = AnswerColumns::default();
                    for row in i * run..((i + 1) * run).min(rows) {
                        let d = reader.decide(set, &columns, row, open_world).map_err(|e| (row, e))?;
                        answers.push(set, &d);
                    }
                    // Not a row's fault: the answer's own arrays (no row number).
                    answers.finish().map_err(|e| (usize::MAX, e.to_string()))
                })
                .collect::<Result<Vec<RecordBatch>, (usize, String)>>()?;
            arrow_select::concat::concat_batches(&Arc::new(decisions_schema()), &parts)
                .map_err(|e| (usize::MAX, e.to_string()))
        });
        answered.map_err(|(row, e)| match row {
            usize::MAX => PyValueError::new_err(e),
            row => RequestError::new_err(format!("row {}: {e}", first_row + row)),
        })
    }
}

/// A string column by name: `Utf8`, `LargeUtf8`, `Utf8View`, or `Null`
/// (every value null); `None` when absent.
fn string_column<'a>(batch: &'a RecordBatch, name: &str) -> PyResult<Option<StringColumn<'a>>> {
    batch.column_by_name(name).map(|c| as_strings(c, name)).transpose()
}

/// `column` (named `name` in errors) as strings of any of Arrow's layouts.
fn as_strings<'a>(column: &'a arrow_array::ArrayRef, name: &str) -> PyResult<StringColumn<'a>> {
    use arrow_array::cast::AsArray;
    Ok(match column.data_type() {
        DataType::Utf8 => StringColumn::Small(column.as_string::<i32>()),
        DataType::LargeUtf8 => StringColumn::Large(column.as_string::<i64>()),
        DataType::Utf8View => StringColumn::View(column.as_string_view()),
        // A column of nothing but nulls, as pyarrow infers one.
        DataType::Null => StringColumn::Nulls,
        other => return Err(PyTypeError::new_err(format!("column `{name}`: expected strings, found {other}"))),
    })
}

/// The `context` column: a JSON object per row, or a struct whose fields
/// are the context keys (no JSON to parse per row).
enum ContextColumn<'a> {
    Json(StringColumn<'a>),
    /// The fields' columns, and their names prepared once for every row.
    Struct(&'a arrow_array::StructArray, Vec<KeyColumn<'a>>, KeyNames),
}

/// One field of a struct `context` column: a key's values, row by row
/// (null: the row does not give the key).
enum KeyColumn<'a> {
    Text(StringColumn<'a>),
    Bool(&'a arrow_array::BooleanArray),
    Int(&'a arrow_array::Int64Array),
    /// Multi-valued keys (`aws:TagKeys`…).
    List(&'a arrow_array::ListArray, StringColumn<'a>),
}

impl<'a> ContextColumn<'a> {
    /// The batch's `context` column, if any.
    fn of(batch: &'a RecordBatch) -> PyResult<Option<ContextColumn<'a>>> {
        use arrow_array::cast::AsArray;
        let Some(column) = batch.column_by_name("context") else { return Ok(None) };
        let DataType::Struct(fields) = column.data_type() else {
            return Ok(Some(ContextColumn::Json(as_strings(column, "context")?)));
        };
        let array = column.as_struct();
        let mut keys = Vec::with_capacity(fields.len());
        let names = KeyNames::new(fields.iter().map(|f| f.name()))
            .map_err(|e| PyValueError::new_err(format!("column `context`: {e}")))?;
        for (field, child) in fields.iter().zip(array.columns()) {
            let name = field.name().as_str();
            let wrong = |found: &DataType| {
                PyTypeError::new_err(format!(
                    "column `context`, field `{name}`: expected strings, booleans, int64 or lists of strings, found {found}"
                ))
            };
            let key = match child.data_type() {
                DataType::Boolean => KeyColumn::Bool(child.as_boolean()),
                DataType::Int64 => KeyColumn::Int(child.as_primitive::<arrow_array::types::Int64Type>()),
                DataType::List(_) => {
                    let list = child.as_list::<i32>();
                    KeyColumn::List(list, as_strings(list.values(), &format!("context.{name}"))?)
                }
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
                    KeyColumn::Text(as_strings(child, name)?)
                }
                other => return Err(wrong(other)),
            };
            keys.push(key);
        }
        Ok(Some(ContextColumn::Struct(array, keys, names)))
    }
}

/// Fills `ctx` (emptied first, open-world or not) with row `row` of a struct
/// `context` column, whose names `ctx` uses ([`Context::use_names`]);
/// `values` is a reused buffer for multi-valued keys.
fn fill_context(
    array: &arrow_array::StructArray,
    keys: &[KeyColumn<'_>],
    row: usize,
    open_world: bool,
    ctx: &mut Context,
    values: &mut Vec<String>,
) -> Result<(), EngineRequestError> {
    use crate::engine::request::ContextEntry;
    use arrow_array::Array;
    if open_world {
        ctx.reset_open_world();
    } else {
        ctx.clear();
    }
    if array.is_null(row) {
        return Ok(());
    }
    let mut number = itoa::Buffer::new();
    // Field `i`'s key is name `i` (`ContextColumn::of`).
    for (i, key) in keys.iter().enumerate() {
        match key {
            KeyColumn::Text(c) => {
                if let Some(v) = c.get(row) {
                    ctx.insert_named(i, ContextEntry::Single(v))?;
                }
            }
            KeyColumn::Bool(c) if c.is_valid(row) => {
                ctx.insert_named(i, ContextEntry::Single(if c.value(row) { "true" } else { "false" }))?;
            }
            KeyColumn::Int(c) if c.is_valid(row) => {
                ctx.insert_named(i, ContextEntry::Single(number.format(c.value(row))))?;
            }
            KeyColumn::List(list, items) if list.is_valid(row) => {
                let span = list.value_offsets().get(row..row + 2).unwrap_or(&[0, 0]);
                let (start, end) = (span[0].max(0) as usize, span[1].max(0) as usize);
                values.clear();
                values.extend((start..end).filter_map(|i| items.get(i)).map(str::to_string));
                ctx.insert_named(i, ContextEntry::Multi(values))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A string column of any of Arrow's string layouts.
enum StringColumn<'a> {
    Small(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
    Nulls,
}

impl<'a> StringColumn<'a> {
    fn get(&self, row: usize) -> Option<&'a str> {
        use arrow_array::Array;
        match self {
            StringColumn::Small(a) => a.is_valid(row).then(|| a.value(row)),
            StringColumn::Large(a) => a.is_valid(row).then(|| a.value(row)),
            StringColumn::View(a) => a.is_valid(row).then(|| a.value(row)),
            StringColumn::Nulls => None,
        }
    }
}

/// The request columns of a batch.
struct Columns<'a> {
    principals: StringColumn<'a>,
    actions: StringColumn<'a>,
    resources: StringColumn<'a>,
    accounts: Option<StringColumn<'a>>,
    contexts: Option<ContextColumn<'a>>,
}

impl<'a> Columns<'a> {
    /// The columns by name; the three required ones must be there.
    fn of(batch: &'a RecordBatch) -> PyResult<Columns<'a>> {
        let required = |name: &str| {
            string_column(batch, name)?.ok_or_else(|| {
                PyValueError::new_err(format!(
                    "decide_arrow: no `{name}` column (principal, action and resource are required)"
                ))
            })
        };
        Ok(Columns {
            principals: required("principal")?,
            actions: required("action")?,
            resources: required("resource")?,
            accounts: string_column(batch, "resource_account")?,
            contexts: ContextColumn::of(batch)?,
        })
    }
}

/// One worker's request, rebuilt in place for each row it decides (its
/// strings reused: building an owned request per row cost five times the
/// decision), with its scratch. Principals and contexts repeat across rows:
/// each distinct text is parsed once ([`Parked`]).
struct RowReader<'a> {
    req: Request,
    principals: Parked<&'a str, Principal>,
    /// By the context column's text (`None`: null, no context).
    contexts: Parked<Option<&'a str>, Context>,
    /// A multi-valued key's values (struct contexts).
    values: Vec<String>,
    scratch: crate::engine::eval::Scratch,
}

impl<'a> RowReader<'a> {
    fn new(set: &CompiledPolicySet, columns: &Columns<'a>) -> RowReader<'a> {
        let mut req = Request::new(Principal::Anonymous, "", "");
        if let Some(ContextColumn::Struct(_, _, names)) = &columns.contexts {
            req.context.use_names(names);
        }
        RowReader {
            req,
            principals: Parked::default(),
            contexts: Parked::default(),
            values: Vec::new(),
            scratch: crate::engine::eval::Scratch::new(set),
        }
    }

    /// Row `row` of `columns`, decided by `set`.
    fn decide(
        &mut self,
        set: &CompiledPolicySet,
        columns: &Columns<'a>,
        row: usize,
        open_world: bool,
    ) -> Result<Decision, String> {
        let value = |c: &StringColumn<'a>, name: &str| c.get(row).ok_or_else(|| format!("`{name}` is null"));
        let req = &mut self.req;
        let text = value(&columns.principals, "principal")?;
        self.principals.switch(text, &mut req.principal, || Principal::parse(text).map_err(|e| e.to_string()))?;
        match &columns.contexts {
            // One batch has one kind of context column: the reader fills the
            // request's context in place, or keeps it among `contexts`.
            Some(ContextColumn::Struct(array, keys, _)) => {
                fill_context(array, keys, row, open_world, &mut req.context, &mut self.values)
                    .map_err(|e| format!("context: {e}"))?
            }
            json => {
                let text = match json {
                    Some(ContextColumn::Json(c)) => c.get(row),
                    _ => None,
                };
                self.contexts.switch(text, &mut req.context, || {
                    let ctx = match text {
                        Some(text) => Context::from_json_text(text).map_err(|e| format!("context: {e}"))?,
                        None => Context::new(),
                    };
                    Ok::<_, String>(if open_world { ctx.into_open_world() } else { ctx })
                })?;
            }
        }
        let refill = |into: &mut String, from: &str| {
            into.clear();
            into.push_str(from);
        };
        refill(&mut req.action, value(&columns.actions, "action")?);
        refill(&mut req.resource, value(&columns.resources, "resource")?);
        match (columns.accounts.as_ref().and_then(|c| c.get(row)), &mut req.resource_account) {
            (Some(account), Some(kept)) => refill(kept, account),
            (account, kept) => *kept = account.map(str::to_string),
        }
        Ok(set.decide(req, &mut self.scratch))
    }
}

/// Distinct values a [`Parked`] keeps before it starts over: contexts of a
/// few hundred bytes, so some megabytes a worker at most.
const PARKED_LIMIT: usize = 16_384;

/// Values parsed from a column's texts, moved into a worker's request when
/// their text comes up and parked again when another does: a text that
/// repeats is parsed once and never copied.
struct Parked<K, T> {
    /// The key of the value in the request.
    current: Option<K>,
    parked: rustc_hash::FxHashMap<K, T>,
}

impl<K, T> Default for Parked<K, T> {
    fn default() -> Self {
        Parked { current: None, parked: rustc_hash::FxHashMap::default() }
    }
}

impl<K: std::hash::Hash + Eq + Copy, T> Parked<K, T> {
    /// Puts `key`'s value in `slot` (parsed by `parse` if not parked), and
    /// parks the value it replaces. On an error `slot` is left as it was.
    fn switch<E>(&mut self, key: K, slot: &mut T, parse: impl FnOnce() -> Result<T, E>) -> Result<(), E> {
        if self.current == Some(key) {
            return Ok(());
        }
        let next = match self.parked.remove(&key) {
            Some(value) => value,
            None => parse()?,
        };
        let previous = std::mem::replace(slot, next);
        if let Some(previous_key) = self.current.replace(key) {
            if self.parked.len() >= PARKED_LIMIT {
                self.parked.clear();
            }
            self.parked.insert(previous_key, previous);
        }
        Ok(())
    }
}

/// The answer batch's schema.
fn decisions_schema() -> Schema {
    let list = |name: &str| Field::new(name, DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), false);
    Schema::new(vec![
        Field::new("decision", DataType::Utf8, false),
        list("statements"),
        list("missing_context_keys"),
        list("unknown_context_keys"),
    ])
}

/// Decisions written as the columns of [`decisions_schema`], row by row.
struct AnswerColumns {
    kinds: arrow_array::builder::StringBuilder,
    statements: arrow_array::builder::ListBuilder<arrow_array::builder::StringBuilder>,
    missing: arrow_array::builder::ListBuilder<arrow_array::builder::StringBuilder>,
    unknown: arrow_array::builder::ListBuilder<arrow_array::builder::StringBuilder>,
    /// A statement's label, written here first (a reused buffer).
    label: String,
}

impl Default for AnswerColumns {
    fn default() -> Self {
        use arrow_array::builder::{ListBuilder, StringBuilder};
        AnswerColumns {
            kinds: StringBuilder::new(),
            statements: ListBuilder::new(StringBuilder::new()),
            missing: ListBuilder::new(StringBuilder::new()),
            unknown: ListBuilder::new(StringBuilder::new()),
            label: String::new(),
        }
    }
}

impl AnswerColumns {
    fn push(&mut self, set: &CompiledPolicySet, d: &Decision) {
        self.kinds.append_value(d.kind.as_str());
        for r in &d.statements {
            self.label.clear();
            push_layer_label(&mut self.label, r.layer);
            for n in [r.policy, r.statement] {
                self.label.push(':');
                self.label.push_str(itoa::Buffer::new().format(n));
            }
            self.statements.values().append_value(&self.label);
        }
        self.statements.append(true);
        for (ids, list) in [(&d.missing_keys, &mut self.missing), (&d.unknown_keys, &mut self.unknown)] {
            for k in ids.iter().filter_map(|k| set.key_name(*k)) {
                list.values().append_value(k);
            }
            list.append(true);
        }
    }

    fn finish(mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let columns: Vec<arrow_array::ArrayRef> = vec![
            Arc::new(self.kinds.finish()),
            Arc::new(self.statements.finish()),
            Arc::new(self.missing.finish()),
            Arc::new(self.unknown.finish()),
        ];
        RecordBatch::try_new(Arc::new(decisions_schema()), columns)
    }
}

pyo3::create_exception!(
    iamsim,
    InputError,
    PyValueError,
    "Input the audit applications cannot use: a catalog, authorization details or a query that cannot be read, with what and where."
);

/// A serialisable answer as Python values (dicts, lists, strings, numbers),
/// the same fields as the CLI's `--format json`.
fn to_python<'py, T: serde::Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

fn input_error(e: impl std::fmt::Display) -> PyErr {
    InputError::new_err(e.to_string())
}

/// The AWS service reference: services, actions with access levels and
/// resource types, condition keys.
#[pyclass(name = "Catalog", module = "iamsim", frozen)]
pub struct PyCatalog {
    inner: Arc<crate::audit::catalog::Catalog>,
}

#[pymethods]
impl PyCatalog {
    /// Loads a catalog: a snapshot file, an `iam-catalog` directory, or a
    /// directory of AWS service-reference JSON files.
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<PyCatalog> {
        let loaded = py.detach(|| crate::audit::catalog::Catalog::load(&path));
        loaded.map(|c| PyCatalog { inner: Arc::new(c) }).map_err(input_error)
    }

    /// How many actions it holds.
    #[getter]
    fn action_count(&self) -> usize {
        self.inner.action_count()
    }

    /// The catalog actions (`service:Action`) any of `patterns` matches, in
    /// catalog order: the automaton evaluation uses.
    fn expand(&self, patterns: Vec<String>) -> PyResult<Vec<String>> {
        let ids = self.inner.expand_patterns(&patterns).map_err(input_error)?;
        Ok(ids.into_iter().map(|id| self.inner.action_name(id)).collect())
    }

    /// Findings for one policy document, as `validate --format json` gives
    /// them: severity, code, JSON path, line, column, message.
    #[pyo3(signature = (document, name = "policy", kind = "identity"))]
    fn validate<'py>(
        &self,
        py: Python<'py>,
        document: &Bound<'py, PyAny>,
        name: &str,
        kind: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let bytes = document_bytes(document)?;
        let kind = policy_kind(kind)?;
        let policy = parse(&bytes, name, kind).map_err(|e| policy_error(py, &e))?;
        let source = crate::engine::policy::parse_json(&bytes, name).ok();
        let findings =
            crate::audit::catalog::validate::validate(&self.inner, &policy, source.as_ref()).map_err(input_error)?;
        to_python(py, &findings)
    }
}

/// An account (or several) from `get-account-authorization-details`, every
/// principal's policies compiled once, for access queries.
#[pyclass(name = "Account", module = "iamsim", frozen)]
pub struct PyAccount {
    inner: crate::audit::access::AccountModel,
}

#[pymethods]
impl PyAccount {
    /// `authorization_details`: the JSON texts (str or bytes) of
    /// `aws iam get-account-authorization-details`, one per account;
    /// `managed_policies`: a folder of `<PolicyName>.json` for attachments
    /// the details omit; `scps`/`rcps`: one list per organization level,
    /// root first; `resource_policies`: resource ARN → policy; `context`:
    /// keys the questions fix (the others are unknown unless `closed_context`).
    #[new]
    #[pyo3(signature = (authorization_details, managed_policies = None, scps = Vec::new(), rcps = Vec::new(), resource_policies = None, context = None, closed_context = false))]
    // One keyword argument per input, as the CLI has one option per input.
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        authorization_details: Vec<Bound<'_, PyAny>>,
        managed_policies: Option<std::path::PathBuf>,
        scps: Vec<Vec<PyRef<'_, PyPolicy>>>,
        rcps: Vec<Vec<PyRef<'_, PyPolicy>>>,
        resource_policies: Option<std::collections::BTreeMap<String, PyRef<'_, PyPolicy>>>,
        context: Option<&Bound<'_, PyAny>>,
        closed_context: bool,
    ) -> PyResult<PyAccount> {
        use crate::audit::access::{AccessInputs, AccountModel, ContextMode};
        let mut inventory = crate::audit::inventory::Inventory::new();
        for (i, details) in authorization_details.iter().enumerate() {
            let bytes = document_bytes(details)?;
            inventory
                .load(&bytes, &format!("authorization_details[{i}]"), managed_policies.as_deref())
                .map_err(input_error)?;
        }
        let inputs = AccessInputs {
            scps: scps.into_iter().map(policies_of).collect(),
            rcps: rcps.into_iter().map(policies_of).collect(),
            resource_policies: resource_policies_of(resource_policies),
            context: context_of(context)?,
            mode: if closed_context { ContextMode::Closed } else { ContextMode::Open },
            ..AccessInputs::default()
        };
        let model = py.detach(|| AccountModel::build(&inventory, inputs)).map_err(input_error)?;
        Ok(PyAccount { inner: model })
    }

    /// The users' and roles' ARNs.
    #[getter]
    fn principals(&self) -> Vec<String> {
        self.inner.principals().map(str::to_string).collect()
    }

    /// Who may do `action` (a wildcard expands with `catalog`) on `resource`
    /// (an ARN or pattern): `who-can --format json`'s answer.
    #[pyo3(signature = (action, resource, catalog = None, resource_account = None))]
    fn who_can<'py>(
        &self,
        py: Python<'py>,
        action: &str,
        resource: &str,
        catalog: Option<PyRef<'py, PyCatalog>>,
        resource_account: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let catalog = catalog.map(|c| Arc::clone(&c.inner));
        let who = py
            .detach(|| self.inner.who_can(catalog.as_deref(), action, resource, resource_account))
            .map_err(input_error)?;
        to_python(py, &who)
    }

    /// What each of `principals` (an ARN or a list) may do: a list of
    /// `principal-can --format json` answers, one sweep plan for all.
    /// `services` and `access_levels` (`List`, `Read`, `Write`, `Tagging`,
    /// `Permissions management`) filter the actions.
    #[pyo3(signature = (principals, catalog, services = Vec::new(), access_levels = Vec::new()))]
    fn principal_can<'py>(
        &self,
        py: Python<'py>,
        principals: &Bound<'py, PyAny>,
        catalog: PyRef<'py, PyCatalog>,
        services: Vec<String>,
        access_levels: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        use crate::audit::access::sweep::SweepFilter;
        let one = principals.cast::<PyString>().is_ok();
        let arns: Vec<String> = if one { vec![principals.extract()?] } else { principals.extract()? };
        let mut filter = SweepFilter { services, ..SweepFilter::default() };
        for level in &access_levels {
            let parsed = crate::audit::catalog::AccessLevel::parse(level).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "access level `{level}`: expected List, Read, Write, Tagging or Permissions management"
                ))
            })?;
            filter.access_levels.push(parsed);
        }
        let catalog = Arc::clone(&catalog.inner);
        let answers = py.detach(|| {
            use rayon::prelude::*;
            let plan = self.inner.sweep_plan(&catalog).map_err(input_error)?;
            arns.par_iter()
                .map(|arn| self.inner.principal_can(&plan, arn, &filter).map_err(input_error))
                .collect::<PyResult<Vec<_>>>()
        })?;
        match (one, answers.first()) {
            (true, Some(first)) => to_python(py, first),
            _ => to_python(py, &answers),
        }
    }

    /// Every action of `resource`'s service that `principal` may do to it
    /// (all of them, each with its access).
    #[pyo3(signature = (principal, resource, catalog, resource_account = None))]
    fn can_access<'py>(
        &self,
        py: Python<'py>,
        principal: &str,
        resource: &str,
        catalog: PyRef<'py, PyCatalog>,
        resource_account: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let catalog = Arc::clone(&catalog.inner);
        let answers = py
            .detach(|| self.inner.can_access(&catalog, principal, resource, resource_account))
            .map_err(input_error)?;
        to_python(py, &answers)
    }
}

/// Policies given per principal: one `Policy` or a list of them.
fn policies_by_arn(given: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, Vec<Policy>)>> {
    let Some(map) = given.filter(|g| !g.is_none()) else { return Ok(Vec::new()) };
    let map = map
        .cast::<pyo3::types::PyDict>()
        .map_err(|_| PyTypeError::new_err("expected a dict: ARN → Policy or list of Policy"))?;
    let mut out = Vec::with_capacity(map.len());
    for (arn, value) in map.iter() {
        let arn: String = arn.extract()?;
        let list: Vec<Policy> = match value.cast::<PyPolicy>() {
            Ok(one) => vec![one.get().inner.clone()],
            Err(_) => policies_of(value.extract()?),
        };
        out.push((arn, list));
    }
    Ok(out)
}

/// Replays CloudTrail logs against an account's policies (or proposed
/// ones) and returns the report: the fields of `iamsim replay --report`.
///
/// `cloudtrail`: files or folders (S3 layout, `.json`, `.json.gz`, JSON
/// Lines). `authorization_details`: paths, or the files' contents as bytes.
/// `policies`: ARN → Policy (or list) for principals the details do not
/// list; `overrides`: ARN → proposed Policy (or list) in place of the
/// current ones (each break is then new or existing); `scps`: one list per
/// level, root first; `resource_policies`: ARN → Policy. The GIL is
/// released while the logs are read. With `decisions`, returns
/// `(report, table)`: every decided check as a `pyarrow.Table` with the
/// fields of `iamsim replay --out` (one row per check, held in memory).
#[pyfunction]
#[pyo3(signature = (cloudtrail, authorization_details = Vec::new(), managed_policies = None, policies = None, overrides = None, scps = Vec::new(), resource_policies = None, catalog = None, threads = None, decisions = false))]
#[allow(clippy::too_many_arguments)] // One keyword argument per input, as the CLI has one option per input.
fn replay<'py>(
    py: Python<'py>,
    cloudtrail: Vec<std::path::PathBuf>,
    authorization_details: Vec<Bound<'py, PyAny>>,
    managed_policies: Option<std::path::PathBuf>,
    policies: Option<&Bound<'py, PyAny>>,
    overrides: Option<&Bound<'py, PyAny>>,
    scps: Vec<Vec<PyRef<'py, PyPolicy>>>,
    resource_policies: Option<std::collections::BTreeMap<String, PyRef<'py, PyPolicy>>>,
    catalog: Option<PyRef<'py, PyCatalog>>,
    threads: Option<usize>,
    decisions: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let mut job =
        replay_job(&authorization_details, managed_policies, policies, overrides, scps, resource_policies, catalog)?;
    job.cloudtrail = cloudtrail;
    job.threads = threads;
    job.want_lines = decisions;
    let mut checks = CheckColumns::default();
    let report = py
        .detach(|| crate::audit::replay::job::run(job, |lines| checks.extend(&lines), |_| {}, |_| {}))
        .map_err(input_error)?;
    let report = to_python(py, &report)?;
    if !decisions {
        return Ok(report);
    }
    let table = checks.finish().map_err(|e| PyValueError::new_err(e.to_string()))?.to_pyarrow(py)?;
    Ok((report, table).into_pyobject(py)?.into_any())
}

/// Decided checks ([`CheckLine`](crate::audit::replay::CheckLine)) built
/// into Arrow columns as they come, named as in `decisions.jsonl`.
#[derive(Default)]
struct CheckColumns {
    text: [arrow_array::builder::StringBuilder; 7],
    lists: [arrow_array::builder::ListBuilder<arrow_array::builder::StringBuilder>; 3],
    optional: [arrow_array::builder::StringBuilder; 3],
}

impl CheckColumns {
    const TEXT: [&'static str; 7] = ["event_id", "time", "principal", "action", "resource", "recorded", "decision"];
    const LISTS: [&'static str; 3] = ["statements", "missing_context_keys", "unknown_context_keys"];
    const OPTIONAL: [&'static str; 3] = ["reason", "breakage", "status"];

    fn extend(&mut self, lines: &[crate::audit::replay::CheckLine]) {
        for l in lines {
            let [event_id, time, principal, action, resource, recorded, decision] = &mut self.text;
            event_id.append_value(&l.event_id);
            time.append_value(&l.time);
            principal.append_value(&l.principal);
            action.append_value(&l.action);
            resource.append_option(l.resource.as_deref());
            recorded.append_value(&l.recorded);
            decision.append_value(l.decision);
            for (list, values) in
                self.lists.iter_mut().zip([&l.statements, &l.missing_context_keys, &l.unknown_context_keys])
            {
                for v in values {
                    list.values().append_value(v);
                }
                list.append(true);
            }
            let [reason, breakage, status] = &mut self.optional;
            reason.append_option(l.reason.as_deref());
            breakage.append_option(l.breakage.map(|b| b.as_str()));
            status.append_option(l.status.map(|s| s.as_str()));
        }
    }

    fn finish(mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        use arrow_array::{Array, ArrayRef};
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        let mut add = |name: &str, column: ArrayRef, nullable: bool| {
            fields.push(Field::new(name, column.data_type().clone(), nullable));
            columns.push(column);
        };
        for (name, b) in Self::TEXT.iter().zip(self.text.iter_mut()) {
            // `resource` is null where the event does not name it.
            add(name, Arc::new(b.finish()), *name == "resource");
        }
        for (name, b) in Self::LISTS.iter().zip(self.lists.iter_mut()) {
            add(name, Arc::new(b.finish()), false);
        }
        for (name, b) in Self::OPTIONAL.iter().zip(self.optional.iter_mut()) {
            add(name, Arc::new(b.finish()), true);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
    }
}

/// A [`ReplayJob`](crate::audit::replay::job::ReplayJob) from `replay`'s
/// (and `ReplayWorker`'s) keyword arguments, without logs.
fn replay_job(
    authorization_details: &[Bound<'_, PyAny>],
    managed_policies: Option<std::path::PathBuf>,
    policies: Option<&Bound<'_, PyAny>>,
    overrides: Option<&Bound<'_, PyAny>>,
    scps: Vec<Vec<PyRef<'_, PyPolicy>>>,
    resource_policies: Option<std::collections::BTreeMap<String, PyRef<'_, PyPolicy>>>,
    catalog: Option<PyRef<'_, PyCatalog>>,
) -> PyResult<crate::audit::replay::job::ReplayJob> {
    let mut details = Vec::with_capacity(authorization_details.len());
    let mut names = Vec::with_capacity(authorization_details.len());
    for (i, d) in authorization_details.iter().enumerate() {
        if let Ok(bytes) = d.cast::<PyBytes>() {
            details.push(bytes.as_bytes().to_vec());
            names.push(format!("authorization_details[{i}]"));
        } else {
            let path: std::path::PathBuf = d.extract()?;
            details.push(
                std::fs::read(&path)
                    .map_err(|e| InputError::new_err(format!("{}: cannot read: {e}", path.display())))?,
            );
            names.push(path.display().to_string());
        }
    }
    Ok(crate::audit::replay::job::ReplayJob {
        authorization_details: details,
        authorization_details_names: names,
        managed_policies,
        policies: policies_by_arn(policies)?,
        overrides: policies_by_arn(overrides)?,
        scps: scps.into_iter().map(policies_of).collect(),
        resource_policies: resource_policies_of(resource_policies),
        catalog: catalog.map(|c| Arc::clone(&c.inner)),
        ..crate::audit::replay::job::ReplayJob::default()
    })
}

/// One Spark Python worker's replayer (`iamsim.spark`): built once from the
/// broadcast inputs, fed log files' bytes, handing back what it found as a
/// partial report to merge on the driver.
#[pyclass(name = "ReplayWorker", module = "iamsim")]
pub struct PyReplayWorker {
    /// Built from the inputs; never fed (the replayer fed is forked from it).
    template: crate::audit::replay::Replayer,
    /// The replayer fed, kept across parts for what it compiled.
    current: Option<crate::audit::replay::Replayer>,
    tests_principal_tags: bool,
}

#[pymethods]
impl PyReplayWorker {
    /// The inputs of [`replay`] but the logs; `decisions`: `replay_bytes`
    /// returns every decided check (JSON text, as `replay --out` writes them).
    #[new]
    #[pyo3(signature = (authorization_details = Vec::new(), managed_policies = None, policies = None, overrides = None, scps = Vec::new(), resource_policies = None, catalog = None, decisions = false))]
    #[allow(clippy::too_many_arguments)] // One keyword argument per input, as the CLI has one option per input.
    fn new(
        authorization_details: Vec<Bound<'_, PyAny>>,
        managed_policies: Option<std::path::PathBuf>,
        policies: Option<&Bound<'_, PyAny>>,
        overrides: Option<&Bound<'_, PyAny>>,
        scps: Vec<Vec<PyRef<'_, PyPolicy>>>,
        resource_policies: Option<std::collections::BTreeMap<String, PyRef<'_, PyPolicy>>>,
        catalog: Option<PyRef<'_, PyCatalog>>,
        decisions: bool,
    ) -> PyResult<PyReplayWorker> {
        let mut job = replay_job(
            &authorization_details,
            managed_policies,
            policies,
            overrides,
            scps,
            resource_policies,
            catalog,
        )?;
        // One thread: Spark runs a worker per core.
        job.threads = Some(1);
        job.want_lines = decisions;
        let (template, tests_principal_tags) =
            crate::audit::replay::job::build(job, &mut |_| {}).map_err(input_error)?;
        Ok(PyReplayWorker { template, current: None, tests_principal_tags })
    }

    /// Whether a policy tests `aws:PrincipalTag` (role sessions' tags must
    /// then be read from the logs first: [`session_tags`], then
    /// `set_session_tags`).
    #[getter]
    fn tests_principal_tags(&self) -> bool {
        self.tests_principal_tags
    }

    /// Role sessions' tags from every part of the logs (the JSON texts
    /// [`session_tags`] gave for each file), merged: the replays that follow
    /// know the principal tags of the sessions created in the logs, as
    /// `iamsim replay` does.
    fn set_session_tags(&mut self, parts: Vec<String>) -> PyResult<()> {
        let mut index = crate::audit::sessions::SessionTags::new();
        for (i, text) in parts.iter().enumerate() {
            let part = serde_json::from_str(text)
                .map_err(|e| InputError::new_err(format!("session tags, part {i}: not an index of sessions: {e}")))?;
            index.merge(part);
        }
        self.template.set_session_tags(index);
        // Made again from the template when next fed.
        self.current = None;
        Ok(())
    }

    /// Replays one log file's bytes (gzipped or not), named `name` in the
    /// report; with `decisions`, returns its decided checks as JSON texts.
    fn replay_bytes(&mut self, py: Python<'_>, name: &str, content: &[u8]) -> Vec<String> {
        let template = &self.template;
        let current = self.current.get_or_insert_with(|| template.fork());
        py.detach(|| {
            let mut decided = Vec::new();
            current.replay_bytes(name, content, &mut |lines| {
                decided.extend(lines.iter().filter_map(|l| serde_json::to_string(l).ok()));
            });
            decided
        })
    }

    /// What the files replayed since the last call found, as JSON text
    /// (a partial report), and a fresh start.
    fn take_partial(&mut self) -> PyResult<String> {
        // Kept for the worker's next partition: its compiled sets with it.
        let template = &self.template;
        let part = self.current.get_or_insert_with(|| template.fork()).take_partial();
        serde_json::to_string(&part).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The report of all `partials` (from `take_partial` anywhere), with the
    /// fields of `iamsim replay --report`; `seconds` is the replay's time.
    fn finish<'py>(&self, py: Python<'py>, partials: Vec<String>, seconds: f64) -> PyResult<Bound<'py, PyAny>> {
        let mut all = self.template.fork();
        for (i, text) in partials.iter().enumerate() {
            let part: crate::audit::replay::Partial =
                serde_json::from_str(text).map_err(|e| InputError::new_err(format!("partial {i}: {e}")))?;
            all.absorb(part);
        }
        to_python(py, &all.finish(seconds))
    }
}

/// The role sessions created by the `AssumeRole` calls in one log file's
/// bytes (gzipped or not) and their tags, as JSON text for
/// `ReplayWorker.set_session_tags` (the first of a replay's two passes over
/// the logs when a policy tests `aws:PrincipalTag`). The GIL is released.
#[pyfunction]
fn session_tags(py: Python<'_>, name: &str, content: &[u8]) -> PyResult<String> {
    let index = py.detach(|| {
        let mut index = crate::audit::sessions::SessionTags::new();
        index.note_bytes(name, content);
        index
    });
    serde_json::to_string(&index).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Whether a file found in a folder is read as a log (`*.json`,
/// `*.json.gz`, `*.jsonl`, `*.jsonl.gz`, `*.ndjson`), as `replay` walks folders.
#[pyfunction]
fn is_log_file_name(name: &str) -> bool {
    crate::audit::cloudtrail::reader::is_log_file_name(name)
}

/// The extension module.
#[pymodule]
fn _iamsim(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("PolicyError", py.get_type::<PolicyError>())?;
    m.add("RequestError", py.get_type::<RequestError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add_class::<PyCatalog>()?;
    m.add_class::<PyAccount>()?;
    m.add_class::<PyPolicy>()?;
    m.add_class::<PyPolicySet>()?;
    m.add_class::<PyRequest>()?;
    m.add_class::<PyMatchedStatement>()?;
    m.add_class::<PyDecision>()?;
    m.add_class::<PyCompiled>()?;
    m.add_function(wrap_pyfunction!(parse_policy, m)?)?;
    m.add_function(wrap_pyfunction!(replay, m)?)?;
    m.add_function(wrap_pyfunction!(is_log_file_name, m)?)?;
    m.add_function(wrap_pyfunction!(session_tags, m)?)?;
    m.add_class::<PyReplayWorker>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
