//! `gatehouse::migrations!("migrations")`: an app's migrations folder, read at
//! compile time. Files are `<version>_<description>.sql` (portable SQL, run on
//! both databases) or `<version>_<description>.sqlite.sql` and
//! `….postgres.sql` (one per dialect, both required). Each version is one or
//! the other; the description is the same for every file of a version.

use std::collections::BTreeMap;
use std::path::Path;

use proc_macro2::TokenStream;
use quote::quote;

/// The files of one version.
#[derive(Default)]
struct Version {
    description: String,
    portable: Option<String>,
    sqlite: Option<String>,
    postgres: Option<String>,
}

/// The expansion, or a message saying what is wrong with the folder.
pub fn expand(dir: &Path, rel: &str) -> Result<TokenStream, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the migrations folder `{rel}`: {e}"))?;
    let mut versions: BTreeMap<i64, Version> = BTreeMap::new();
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read `{rel}`: {e}"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    for name in names {
        let Some(stem) = name.strip_suffix(".sql") else {
            return Err(format!(
                "`{rel}/{name}` is not a migration: files are <version>_<description>.sql, .sqlite.sql or .postgres.sql"
            ));
        };
        let (stem, dialect) = match stem.rsplit_once('.') {
            Some((s, d @ ("sqlite" | "postgres"))) => (s, Some(d)),
            Some((_, other)) => {
                return Err(format!(
                    "`{rel}/{name}`: `{other}` is not a dialect; use .sqlite.sql or .postgres.sql"
                ));
            }
            None => (stem, None),
        };
        let bad =
            || format!("`{rel}/{name}` must be named <version>_<description>, e.g. 0001_notes.sql");
        let (version, description) = stem.split_once('_').ok_or_else(bad)?;
        let version: i64 = version.parse().map_err(|_| bad())?;
        if description.is_empty() {
            return Err(bad());
        }
        let path = dir.join(&name);
        let path = path.to_string_lossy().into_owned();
        let v = versions.entry(version).or_default();
        if v.description.is_empty() {
            v.description = description.replace('_', " ");
        } else if v.description != description.replace('_', " ") {
            return Err(format!(
                "`{rel}/{name}`: version {version} has files with different descriptions"
            ));
        }
        let slot = match dialect {
            None => &mut v.portable,
            Some("sqlite") => &mut v.sqlite,
            _ => &mut v.postgres,
        };
        *slot = Some(path);
    }
    let mut items = Vec::new();
    for (version, v) in &versions {
        match (&v.portable, &v.sqlite, &v.postgres) {
            (Some(_), None, None) | (None, Some(_), Some(_)) => {}
            (Some(_), _, _) => {
                return Err(format!(
                    "`{rel}`: version {version} has portable SQL and a dialect's file; use one or the other"
                ));
            }
            (None, s, _) => {
                let missing = if s.is_none() { "sqlite" } else { "postgres" };
                return Err(format!(
                    "`{rel}`: version {version} has no .{missing}.sql file (a version with dialect files needs both)"
                ));
            }
        }
        let text = |p: &Option<String>| match p {
            Some(path) => quote! { ::core::option::Option::Some(include_str!(#path)) },
            None => quote! { ::core::option::Option::None },
        };
        let (portable, sqlite, postgres) = (text(&v.portable), text(&v.sqlite), text(&v.postgres));
        let description = &v.description;
        items.push(quote! {
            ::gatehouse::AppMigration {
                version: #version,
                description: #description,
                portable: #portable,
                sqlite: #sqlite,
                postgres: #postgres,
            }
        });
    }
    if items.is_empty() {
        return Err(format!("the migrations folder `{rel}` has no .sql files"));
    }
    Ok(quote! { ::gatehouse::AppMigrations(&[ #(#items),* ]) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder holding `files`, and what `expand` says of it.
    fn folder(files: &[&str]) -> Result<String, String> {
        let dir = std::env::temp_dir().join(format!(
            "gatehouse-migrations-{}-{}",
            std::process::id(),
            files.join("+").replace('/', "_")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for f in files {
            std::fs::write(dir.join(f), "SELECT 1;").unwrap();
        }
        let out = expand(&dir, "migrations").map(|t| t.to_string());
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }

    #[test]
    fn a_folder_of_portable_and_dialect_files() {
        let out = folder(&[
            "0001_notes.sql",
            "0002_search.sqlite.sql",
            "0002_search.postgres.sql",
        ])
        .expect("a valid folder");
        assert!(
            out.contains("version : 1i64") && out.contains("version : 2i64"),
            "{out}"
        );
        assert!(out.contains("description : \"search\""), "{out}");
    }

    #[test]
    fn every_mistake_is_named() {
        let cases: [(&[&str], &str); 6] = [
            (
                &["0001_a.sqlite.sql"],
                "version 1 has no .postgres.sql file",
            ),
            (
                &["0001_a.sql", "0001_a.postgres.sql", "0001_a.sqlite.sql"],
                "portable SQL and a dialect's file",
            ),
            (&["one_a.sql"], "must be named <version>_<description>"),
            (&["0001_a.mysql.sql"], "`mysql` is not a dialect"),
            (
                &["0001_a.sqlite.sql", "0001_b.postgres.sql"],
                "different descriptions",
            ),
            (&[], "has no .sql files"),
        ];
        for (files, expected) in cases {
            let err = folder(files).expect_err(expected);
            assert!(err.contains(expected), "{files:?}: {err}");
        }
        assert!(
            folder(&["notes.txt"])
                .unwrap_err()
                .contains("is not a migration")
        );
    }
}
