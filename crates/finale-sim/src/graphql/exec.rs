//! Parsing, validation and execution of one GraphQL request.
//!
//! The executor knows nothing about inventory. It walks the operation's selection set over
//! values that implement [`Node`] (one Rust value per GraphQL object), guided by the static
//! [`Schema`]:
//!
//! 1. [`Request::decode`] reads the HTTP body;
//! 2. [`run`] parses the document, picks the operation (by `operationName` or the only one),
//!    binds variables (request values, then declared defaults, then null), and validates the
//!    whole selection — fields, arguments, sub-selections, fragments, variables, directives —
//!    so that any mistake fails the query before it executes;
//! 3. execution collects fields (merging fragments and same-named response keys, honouring
//!    `@skip`/`@include`), evaluates arguments to JSON, and asks the node for each field.
//!
//! Connections are built by [`connection`]: a resolver hands over a [`ConnSource`] (the
//! filtered rows, in natural order) and the executor applies `sort`, cuts the page, and
//! materialises nodes only for that page.
//!
//! Hostile input: documents nested deeper than [`MAX_DEPTH`] are refused before parsing (the
//! parser is recursive), fragment cycles are detected, and the number of resolved fields is
//! capped by [`MAX_FIELDS`] so aliases cannot multiply work without bound.

use std::collections::{BTreeMap, HashSet};

use graphql_parser::query::{
    Definition, Directive, Document, Field, FragmentDefinition, OperationDefinition, Selection,
    SelectionSet, Type, Value,
};
use serde_json::{Map, Value as J};

use super::args::{self, Args, Paging, Window};
use super::format::{Formatter, Scalar, render};
use super::schema::{FieldDef, QUERY, Schema, Ty, TypeDef};
use super::{GqlContext, GqlError, GqlRequestError, cursor};

/// Maximum nesting of `{`/`(`/`[` in a document.
pub(crate) const MAX_DEPTH: usize = 64;
/// Maximum number of field values produced by one request.
pub(crate) const MAX_FIELDS: usize = 5_000_000;

type Doc<'q> = Document<'q, String>;
type Sel<'q> = SelectionSet<'q, String>;

/// A decoded request body.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// The document text.
    pub query: String,
    /// Variable values.
    pub variables: Map<String, J>,
    /// Which operation to run, when the document has several.
    pub operation_name: Option<String>,
}

impl Request {
    /// Decodes `{"query", "variables"?, "operationName"?}`.
    pub(crate) fn decode(body: &[u8]) -> Result<Self, GqlRequestError> {
        let value: J =
            serde_json::from_slice(body).map_err(|e| GqlRequestError::NotJson(Some(e)))?;
        let J::Object(mut obj) = value else {
            return Err(GqlRequestError::NotJson(None));
        };
        let Some(J::String(query)) = obj.remove("query") else {
            return Err(GqlRequestError::NoQuery);
        };
        let variables = match obj.remove("variables") {
            None | Some(J::Null) => Map::new(),
            Some(J::Object(v)) => v,
            Some(_) => return Err(GqlRequestError::BadVariables),
        };
        let operation_name = match obj.remove("operationName") {
            None | Some(J::Null) => None,
            Some(J::String(s)) => Some(s),
            Some(_) => return Err(GqlRequestError::BadOperationName),
        };
        Ok(Request {
            query,
            variables,
            operation_name,
        })
    }
}

/// One GraphQL object value. `'a` is the lifetime of the data it reads; child values may also
/// borrow from their parent (`'_`).
///
/// The executor only calls methods for fields the schema declares with the matching kind, so
/// the defaults (which report an internal error) are unreachable for a consistent binding.
pub(crate) trait Node<'a> {
    /// A `Scalar` or `Raw` field.
    fn scalar(&self, field: &str) -> Result<Scalar, GqlError> {
        Err(unresolvable(field))
    }
    /// An `Object` field; `None` renders as `null`.
    fn object(&self, field: &str, args: &Args) -> Result<Option<Child<'a, '_>>, GqlError> {
        let _ = args;
        Err(unresolvable(field))
    }
    /// A `List` field.
    fn list(&self, field: &str) -> Result<Vec<Child<'a, '_>>, GqlError> {
        Err(unresolvable(field))
    }
}

/// A node produced by a parent node: reads data of lifetime `'a`, may borrow the parent (`'s`).
pub(crate) type Child<'a, 's> = Box<dyn Node<'a> + 's>;

fn unresolvable(field: &str) -> GqlError {
    GqlError::new(format!("Internal error: field \"{field}\" has no resolver"))
}

/// The filtered rows behind a connection, in natural order.
///
/// Sources may filter lazily: [`available`](ConnSource::available) only has to look far enough
/// to answer, so the first pages of a large, unsorted connection cost only what they show.
pub(crate) trait ConnSource<'a> {
    /// `min(n, total number of rows)`.
    fn available(&self, n: usize) -> usize;
    /// The node of row `idx` (`idx < available(idx + 1)`, already established by the caller).
    fn node<'s>(&'s self, idx: usize) -> Child<'a, 's>
    where
        'a: 's;
    /// Total number of rows (forces a full scan for lazy sources).
    fn len(&self) -> usize {
        self.available(usize::MAX)
    }
}

/// A [`ConnSource`] over a vector of cheap handles and a node constructor.
pub(crate) struct VecSource<T, F> {
    items: Vec<T>,
    make: F,
}

impl<T, F> VecSource<T, F> {
    /// Wraps `items`; `make` turns one into its node.
    pub(crate) fn new(items: Vec<T>, make: F) -> Self {
        Self { items, make }
    }
}

impl<'a, T, F> ConnSource<'a> for VecSource<T, F>
where
    F: Fn(&T) -> Box<dyn Node<'a> + 'a>,
{
    fn available(&self, n: usize) -> usize {
        n.min(self.items.len())
    }
    fn node<'s>(&'s self, idx: usize) -> Child<'a, 's>
    where
        'a: 's,
    {
        (self.make)(&self.items[idx])
    }
}

/// A [`ConnSource`] that filters a table lazily: it walks `base` (row indexes in natural
/// order) only as far as the page needs, letting `expand` turn each base row into zero or
/// more connection rows (zero when filtered out, several for ledger rows of one shipment).
pub(crate) struct LazySource<'b, T, E, F> {
    base: &'b [usize],
    expand: E,
    make: F,
    state: std::cell::RefCell<(Vec<T>, usize)>,
}

impl<'b, T, E, F> LazySource<'b, T, E, F> {
    /// A source over `base`; `expand(row, out)` pushes the row's connection rows into `out`.
    pub(crate) fn new(base: &'b [usize], expand: E, make: F) -> Self {
        Self {
            base,
            expand,
            make,
            state: std::cell::RefCell::new((Vec::new(), 0)),
        }
    }
}

impl<'a, T, E, F> ConnSource<'a> for LazySource<'_, T, E, F>
where
    E: Fn(usize, &mut Vec<T>),
    F: Fn(&T) -> Box<dyn Node<'a> + 'a>,
{
    fn available(&self, n: usize) -> usize {
        let mut state = self.state.borrow_mut();
        let (matched, next) = &mut *state;
        while matched.len() < n && *next < self.base.len() {
            (self.expand)(self.base[*next], matched);
            *next += 1;
        }
        n.min(matched.len())
    }
    fn node<'s>(&'s self, idx: usize) -> Child<'a, 's>
    where
        'a: 's,
    {
        let state = self.state.borrow();
        (self.make)(&state.0[idx])
    }
}

/// Builds a connection value over `source` for a field with `args` (paging and `sort`);
/// `node_type` is the connection's node type, used to check sort fields.
pub(crate) fn connection<'a, 's>(
    source: Box<dyn ConnSource<'a> + 's>,
    args: &Args,
    node_type: &str,
) -> Result<Child<'a, 's>, GqlError>
where
    'a: 's,
{
    let paging = Paging::parse(args)?;
    let specs = args::sort(args)?;
    let order = if specs.is_empty() {
        None
    } else {
        let len = source.len();
        let tdef = Schema::get()
            .ty(node_type)
            .ok_or_else(|| GqlError::new(format!("Internal error: no type {node_type}")))?;
        for s in &specs {
            if tdef.field(&s.field).is_none_or(|f| f.ty != Ty::Scalar) {
                return Err(GqlError::new(format!(
                    "Cannot sort by \"{}\": no such scalar field on type \"{node_type}\"",
                    s.field
                )));
            }
        }
        let mut keyed = Vec::with_capacity(len);
        for i in 0..len {
            let node = source.node(i);
            let mut keys = Vec::with_capacity(specs.len());
            for s in &specs {
                keys.push(node.scalar(&s.field)?.sort_key());
            }
            keyed.push((keys, i));
        }
        keyed.sort_by(|(ka, ia), (kb, ib)| {
            for (n, s) in specs.iter().enumerate() {
                let o = ka[n].cmp_total(&kb[n]);
                let o = if s.desc { o.reverse() } else { o };
                if o.is_ne() {
                    return o;
                }
            }
            ia.cmp(ib)
        });
        Some(keyed.into_iter().map(|(_, i)| i).collect::<Vec<_>>())
    };
    let window = paging.window_with(|n| source.available(n));
    Ok(Box::new(ConnectionNode {
        source,
        order,
        window,
    }))
}

struct ConnectionNode<'a, 's> {
    source: Box<dyn ConnSource<'a> + 's>,
    order: Option<Vec<usize>>,
    window: Window,
}

impl<'a> Node<'a> for ConnectionNode<'a, '_> {
    fn object(&self, field: &str, _: &Args) -> Result<Option<Child<'a, '_>>, GqlError> {
        match field {
            "pageInfo" => Ok(Some(Box::new(PageInfoNode(self.window)))),
            "summary" => Ok(Some(Box::new(SummaryNode(self.source.len())))),
            _ => Err(unresolvable(field)),
        }
    }
    fn list(&self, field: &str) -> Result<Vec<Child<'a, '_>>, GqlError> {
        if field != "edges" {
            return Err(unresolvable(field));
        }
        Ok((self.window.start..self.window.end)
            .map(|pos| {
                let row = self.order.as_ref().map_or(pos, |o| o[pos]);
                Box::new(EdgeNode {
                    node: self.source.node(row),
                    pos,
                }) as Child<'a, '_>
            })
            .collect())
    }
}

struct EdgeNode<'a, 's> {
    node: Child<'a, 's>,
    pos: usize,
}

impl<'a> Node<'a> for EdgeNode<'a, '_> {
    fn scalar(&self, field: &str) -> Result<Scalar, GqlError> {
        match field {
            "cursor" => Ok(Scalar::Text(cursor::encode(self.pos))),
            _ => Err(unresolvable(field)),
        }
    }
    fn object(&self, field: &str, _: &Args) -> Result<Option<Child<'a, '_>>, GqlError> {
        match field {
            "node" => Ok(Some(Box::new(Borrowed(&*self.node)))),
            _ => Err(unresolvable(field)),
        }
    }
}

/// A node borrowed from its owner.
struct Borrowed<'n, 'a>(&'n (dyn Node<'a> + 'n));

impl<'a> Node<'a> for Borrowed<'_, 'a> {
    fn scalar(&self, field: &str) -> Result<Scalar, GqlError> {
        self.0.scalar(field)
    }
    fn object(&self, field: &str, args: &Args) -> Result<Option<Child<'a, '_>>, GqlError> {
        self.0.object(field, args)
    }
    fn list(&self, field: &str) -> Result<Vec<Child<'a, '_>>, GqlError> {
        self.0.list(field)
    }
}

struct PageInfoNode(Window);

impl<'a> Node<'a> for PageInfoNode {
    fn scalar(&self, field: &str) -> Result<Scalar, GqlError> {
        let w = self.0;
        let empty = w.start >= w.end;
        Ok(match field {
            "hasNextPage" => Scalar::Bool(w.has_next),
            "hasPreviousPage" => Scalar::Bool(w.has_previous),
            "startCursor" if empty => Scalar::Null,
            "startCursor" => Scalar::Text(cursor::encode(w.start)),
            "endCursor" if empty => Scalar::Null,
            "endCursor" => Scalar::Text(cursor::encode(w.end - 1)),
            _ => return Err(unresolvable(field)),
        })
    }
}

struct SummaryNode(usize);

impl<'a> Node<'a> for SummaryNode {
    fn object(&self, field: &str, _: &Args) -> Result<Option<Child<'a, '_>>, GqlError> {
        match field {
            "metrics" => Ok(Some(Box::new(MetricsNode(self.0)))),
            _ => Err(unresolvable(field)),
        }
    }
}

/// Summary metrics come back as parallel arrays (finale-api.md §9); without `groupBy` there
/// is one group, so `count` is a one-element list.
struct MetricsNode(usize);

impl<'a> Node<'a> for MetricsNode {
    fn scalar(&self, field: &str) -> Result<Scalar, GqlError> {
        match field {
            "count" => Ok(Scalar::List(vec![Scalar::Int(self.0 as i64)])),
            _ => Err(unresolvable(field)),
        }
    }
}

/// Parses, validates and executes `req` with `root` as the `Query` object. Returns the `data`
/// object, or every error that made the query fail.
pub(crate) fn run<'a>(
    req: &Request,
    root: &dyn Node<'a>,
    ctx: &GqlContext,
) -> Result<J, Vec<GqlError>> {
    run_inner(req, root, ctx).map_err(|e| vec![e])
}

fn run_inner<'a>(req: &Request, root: &dyn Node<'a>, ctx: &GqlContext) -> Result<J, GqlError> {
    check_depth(&req.query)?;
    let doc: Doc<'_> = graphql_parser::parse_query::<String>(&req.query)
        .map_err(|e| GqlError::new(format!("Syntax Error: {}", e.to_string().trim())))?;
    let mut fragments: BTreeMap<&str, &FragmentDefinition<'_, String>> = BTreeMap::new();
    let mut operations = Vec::new();
    for def in &doc.definitions {
        match def {
            Definition::Fragment(f) => {
                if fragments.insert(f.name.as_str(), f).is_some() {
                    return Err(GqlError::new(format!(
                        "There can be only one fragment named \"{}\"",
                        f.name
                    ))
                    .at(f.position));
                }
            }
            Definition::Operation(op) => operations.push(op),
        }
    }
    let op = pick_operation(&operations, req.operation_name.as_deref())?;
    let (var_defs, directives, selection) = match op {
        OperationDefinition::SelectionSet(s) => (&[][..], &[][..], s),
        OperationDefinition::Query(q) => (
            &q.variable_definitions[..],
            &q.directives[..],
            &q.selection_set,
        ),
        OperationDefinition::Mutation(m) => {
            return Err(GqlError::new("Schema is not configured for mutations").at(m.position));
        }
        OperationDefinition::Subscription(s) => {
            return Err(GqlError::new("Schema is not configured for subscriptions").at(s.position));
        }
    };
    if let Some(d) = directives.first() {
        return Err(
            GqlError::new(format!("Unknown directive \"@{}\" on query", d.name)).at(d.position),
        );
    }
    let mut vars = BTreeMap::new();
    for def in var_defs {
        let value = match req.variables.get(&def.name) {
            Some(v) => v.clone(),
            None => match &def.default_value {
                Some(d) => const_value(d)?,
                None => J::Null,
            },
        };
        if value.is_null() && matches!(def.var_type, Type::NonNullType(_)) {
            return Err(GqlError::new(format!(
                "Variable \"${}\" of required type \"{}\" was not provided",
                def.name, def.var_type
            ))
            .at(def.position));
        }
        if vars.insert(def.name.clone(), value).is_some() {
            return Err(GqlError::new(format!(
                "There can be only one variable named \"${}\"",
                def.name
            ))
            .at(def.position));
        }
    }
    let schema = Schema::get();
    let query_type = schema
        .ty(QUERY)
        .ok_or_else(|| GqlError::new("Internal error: no Query type"))?;
    let mut validator = Validator {
        schema,
        fragments: &fragments,
        vars: &vars,
        stack: Vec::new(),
    };
    validator.set(selection, query_type)?;
    let mut exec = Exec {
        schema,
        fragments: &fragments,
        vars: &vars,
        ctx,
        budget: MAX_FIELDS,
    };
    exec.set(root, query_type, &[selection])
}

fn pick_operation<'d, 'q>(
    ops: &[&'d OperationDefinition<'q, String>],
    name: Option<&str>,
) -> Result<&'d OperationDefinition<'q, String>, GqlError> {
    let op_name = |op: &OperationDefinition<'q, String>| -> Option<String> {
        match op {
            OperationDefinition::SelectionSet(_) => None,
            OperationDefinition::Query(q) => q.name.clone(),
            OperationDefinition::Mutation(m) => m.name.clone(),
            OperationDefinition::Subscription(s) => s.name.clone(),
        }
    };
    match name {
        Some(wanted) => ops
            .iter()
            .copied()
            .find(|op| op_name(op).as_deref() == Some(wanted))
            .ok_or_else(|| GqlError::new(format!("Unknown operation named \"{wanted}\""))),
        None => match ops {
            [] => Err(GqlError::new("The document contains no operation")),
            [one] => Ok(one),
            _ => Err(GqlError::new(
                "Must provide operation name if query contains multiple operations",
            )),
        },
    }
}

/// Refuses documents nested deeper than [`MAX_DEPTH`] before the recursive parser sees them.
fn check_depth(query: &str) -> Result<(), GqlError> {
    let mut depth = 0usize;
    let mut chars = query.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '#' => {
                for n in chars.by_ref() {
                    if n == '\n' || n == '\r' {
                        break;
                    }
                }
            }
            '{' | '(' | '[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(GqlError::new(format!(
                        "Query is nested too deeply (more than {MAX_DEPTH} levels)"
                    )));
                }
            }
            '}' | ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// A constant (variable-free) value, e.g. a variable's default.
fn const_value(v: &Value<'_, String>) -> Result<J, GqlError> {
    value(v, &BTreeMap::new())
}

/// Evaluates an argument value, substituting variables; enum literals become strings.
fn value(v: &Value<'_, String>, vars: &BTreeMap<String, J>) -> Result<J, GqlError> {
    Ok(match v {
        Value::Variable(name) => vars
            .get(name)
            .cloned()
            .ok_or_else(|| GqlError::new(format!("Variable \"${name}\" is not defined")))?,
        Value::Int(n) => n.as_i64().map_or(J::Null, J::from),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::String(s) => J::String(s.clone()),
        Value::Boolean(b) => J::Bool(*b),
        Value::Null => J::Null,
        Value::Enum(e) => J::String(e.clone()),
        Value::List(items) => J::Array(
            items
                .iter()
                .map(|i| value(i, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(fields) => J::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), value(v, vars)?)))
                .collect::<Result<_, GqlError>>()?,
        ),
    })
}

fn check_vars_defined(v: &Value<'_, String>, vars: &BTreeMap<String, J>) -> Result<(), GqlError> {
    value(v, vars).map(|_| ())
}

struct Validator<'v, 'q> {
    schema: &'v Schema,
    fragments: &'v BTreeMap<&'q str, &'v FragmentDefinition<'q, String>>,
    vars: &'v BTreeMap<String, J>,
    stack: Vec<String>,
}

impl Validator<'_, '_> {
    fn set(&mut self, set: &Sel<'_>, ty: &TypeDef) -> Result<(), GqlError> {
        for sel in &set.items {
            match sel {
                Selection::Field(f) => self.field(f, ty).map_err(|e| e.at(f.position))?,
                Selection::FragmentSpread(s) => {
                    self.directives(&s.directives)
                        .map_err(|e| e.at(s.position))?;
                    let Some(frag) = self.fragments.get(s.fragment_name.as_str()) else {
                        return Err(GqlError::new(format!(
                            "Unknown fragment \"{}\"",
                            s.fragment_name
                        ))
                        .at(s.position));
                    };
                    let graphql_parser::query::TypeCondition::On(cond) = &frag.type_condition;
                    if cond != &ty.name {
                        return Err(GqlError::new(format!(
                            "Fragment \"{}\" cannot be spread here as objects of type \"{}\" \
                             can never be of type \"{cond}\"",
                            s.fragment_name, ty.name
                        ))
                        .at(s.position));
                    }
                    if self.stack.iter().any(|n| n == &s.fragment_name) {
                        return Err(GqlError::new(format!(
                            "Cannot spread fragment \"{}\" within itself",
                            s.fragment_name
                        ))
                        .at(s.position));
                    }
                    self.stack.push(s.fragment_name.clone());
                    self.set(&frag.selection_set, ty)?;
                    self.stack.pop();
                }
                Selection::InlineFragment(i) => {
                    self.directives(&i.directives)
                        .map_err(|e| e.at(i.position))?;
                    if let Some(graphql_parser::query::TypeCondition::On(cond)) = &i.type_condition
                        && cond != &ty.name
                    {
                        return Err(GqlError::new(format!(
                            "Fragment cannot be spread here as objects of type \"{}\" can never \
                             be of type \"{cond}\"",
                            ty.name
                        ))
                        .at(i.position));
                    }
                    self.set(&i.selection_set, ty)?;
                }
            }
        }
        Ok(())
    }

    fn field(&mut self, f: &Field<'_, String>, ty: &TypeDef) -> Result<(), GqlError> {
        self.directives(&f.directives)?;
        if f.name == "__typename" {
            if let Some((arg, _)) = f.arguments.first() {
                return Err(GqlError::new(format!(
                    "Unknown argument \"{arg}\" on field \"__typename\""
                )));
            }
            return no_subselection(f, "String");
        }
        let Some(def) = ty.field(&f.name) else {
            return Err(GqlError::new(format!(
                "Cannot query field \"{}\" on type \"{}\"",
                f.name, ty.name
            )));
        };
        let mut seen = HashSet::new();
        for (arg, v) in &f.arguments {
            if !def.accepts(arg) {
                return Err(GqlError::new(format!(
                    "Unknown argument \"{arg}\" on field \"{}.{}\"",
                    ty.name, f.name
                )));
            }
            if !seen.insert(arg.as_str()) {
                return Err(GqlError::new(format!(
                    "There can be only one argument named \"{arg}\""
                )));
            }
            check_vars_defined(v, self.vars)?;
        }
        match &def.ty {
            Ty::Scalar | Ty::Raw => no_subselection(f, "String"),
            Ty::Object(t) | Ty::List(t) => {
                if f.selection_set.items.is_empty() {
                    return Err(GqlError::new(format!(
                        "Field \"{}\" of type \"{t}\" must have a selection of subfields",
                        f.name
                    )));
                }
                let target = self
                    .schema
                    .ty(t)
                    .ok_or_else(|| GqlError::new(format!("Internal error: no type {t}")))?;
                self.set(&f.selection_set, target)
            }
        }
    }

    fn directives(&self, ds: &[Directive<'_, String>]) -> Result<(), GqlError> {
        for d in ds {
            if d.name != "skip" && d.name != "include" {
                return Err(GqlError::new(format!("Unknown directive \"@{}\"", d.name)));
            }
            for (arg, v) in &d.arguments {
                if arg != "if" {
                    return Err(GqlError::new(format!(
                        "Unknown argument \"{arg}\" on directive \"@{}\"",
                        d.name
                    )));
                }
                check_vars_defined(v, self.vars)?;
            }
            if !d.arguments.iter().any(|(a, _)| a == "if") {
                return Err(GqlError::new(format!(
                    "Directive \"@{}\" argument \"if\" of type \"Boolean!\" is required",
                    d.name
                )));
            }
        }
        Ok(())
    }
}

fn no_subselection(f: &Field<'_, String>, ty: &str) -> Result<(), GqlError> {
    if f.selection_set.items.is_empty() {
        Ok(())
    } else {
        Err(GqlError::new(format!(
            "Field \"{}\" must not have a selection since type \"{ty}\" has no subfields",
            f.name
        )))
    }
}

struct Exec<'v, 'q> {
    schema: &'v Schema,
    fragments: &'v BTreeMap<&'q str, &'v FragmentDefinition<'q, String>>,
    vars: &'v BTreeMap<String, J>,
    ctx: &'v GqlContext,
    budget: usize,
}

/// Fields of one response key, merged across fragments.
struct Collected<'f, 'q> {
    key: String,
    fields: Vec<&'f Field<'q, String>>,
}

impl<'v, 'q> Exec<'v, 'q>
where
    'q: 'v,
{
    fn set<'a>(
        &mut self,
        node: &dyn Node<'a>,
        ty: &TypeDef,
        sets: &[&'v Sel<'q>],
    ) -> Result<J, GqlError> {
        let mut collected: Vec<Collected<'v, 'q>> = Vec::new();
        for s in sets {
            self.collect(s, &mut collected)?;
        }
        let mut out = Map::new();
        for c in collected {
            let f = c.fields[0];
            if self.budget == 0 {
                return Err(GqlError::new(format!(
                    "Query produces too many values (limit {MAX_FIELDS})"
                )));
            }
            self.budget -= 1;
            let v = self.field(node, ty, &c).map_err(|e| e.at(f.position))?;
            out.insert(c.key, v);
        }
        Ok(J::Object(out))
    }

    fn field<'a>(
        &mut self,
        node: &dyn Node<'a>,
        ty: &TypeDef,
        c: &Collected<'v, 'q>,
    ) -> Result<J, GqlError> {
        let f = c.fields[0];
        if f.name == "__typename" {
            return Ok(J::String(ty.name.clone()));
        }
        let def: &FieldDef = ty.field(&f.name).ok_or_else(|| {
            GqlError::new(format!(
                "Cannot query field \"{}\" on type \"{}\"",
                f.name, ty.name
            ))
        })?;
        let mut args = Args::new();
        for (name, v) in &f.arguments {
            args.insert(name.clone(), value(v, self.vars)?);
        }
        let subsets: Vec<&'v Sel<'q>> = c.fields.iter().map(|f| &f.selection_set).collect();
        match &def.ty {
            Ty::Scalar => {
                let fmt = Formatter::parse(args.get("formatter"))?;
                Ok(render(&node.scalar(&f.name)?, fmt, self.ctx))
            }
            Ty::Raw => Ok(render(&node.scalar(&f.name)?, Formatter::None, self.ctx)),
            Ty::Object(t) => {
                let target = self.target(t)?;
                match node.object(&f.name, &args)? {
                    None => Ok(J::Null),
                    Some(child) => self.set(&*child, target, &subsets),
                }
            }
            Ty::List(t) => {
                let target = self.target(t)?;
                let children = node.list(&f.name)?;
                let mut out = Vec::with_capacity(children.len());
                for child in &children {
                    out.push(self.set(&**child, target, &subsets)?);
                }
                Ok(J::Array(out))
            }
        }
    }

    fn target(&self, t: &str) -> Result<&'v TypeDef, GqlError> {
        self.schema
            .ty(t)
            .ok_or_else(|| GqlError::new(format!("Internal error: no type {t}")))
    }

    /// Collects the fields of `set` (expanding fragments, honouring `@skip`/`@include`) into
    /// `out`, merging fields that share a response key.
    fn collect(&self, set: &'v Sel<'q>, out: &mut Vec<Collected<'v, 'q>>) -> Result<(), GqlError> {
        for sel in &set.items {
            match sel {
                Selection::Field(f) => {
                    if !self.included(&f.directives)? {
                        continue;
                    }
                    let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
                    match out.iter_mut().find(|c| c.key == key) {
                        Some(c) => {
                            let first = c.fields[0];
                            if first.name != f.name || first.arguments != f.arguments {
                                return Err(GqlError::new(format!(
                                    "Fields \"{key}\" conflict because they have differing \
                                     names or arguments; use different aliases"
                                ))
                                .at(f.position));
                            }
                            c.fields.push(f);
                        }
                        None => out.push(Collected {
                            key,
                            fields: vec![f],
                        }),
                    }
                }
                Selection::FragmentSpread(s) => {
                    if !self.included(&s.directives)? {
                        continue;
                    }
                    if let Some(frag) = self.fragments.get(s.fragment_name.as_str()) {
                        self.collect(&frag.selection_set, out)?;
                    }
                }
                Selection::InlineFragment(i) => {
                    if self.included(&i.directives)? {
                        self.collect(&i.selection_set, out)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn included(&self, ds: &[Directive<'_, String>]) -> Result<bool, GqlError> {
        for d in ds {
            let cond = d.arguments.iter().find(|(a, _)| a == "if").map(|(_, v)| v);
            let cond = match cond.map(|v| value(v, self.vars)).transpose()? {
                Some(J::Bool(b)) => b,
                other => {
                    return Err(GqlError::new(format!(
                        "Directive \"@{}\" needs a boolean \"if\", got {}",
                        d.name,
                        other.unwrap_or(J::Null)
                    )));
                }
            };
            let keep = if d.name == "skip" { !cond } else { cond };
            if !keep {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
