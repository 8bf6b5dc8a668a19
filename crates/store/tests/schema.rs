//! The SQLite and PostgreSQL migrations describe one logical schema: the
//! same tables, columns (in order) and indexes. A column added to one file
//! only would break the other backend at run time.

mod common;

use std::collections::BTreeMap;

/// table or index name → its column names, from CREATE statements.
fn logical_schema(sql: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let sql: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    // A function body ($$ ... $$) holds statements of its own.
    let sql: String = sql.split("$$").step_by(2).collect::<Vec<_>>().join("$$");
    for stmt in sql.split(';') {
        let words: Vec<&str> = stmt.split_whitespace().collect();
        match words.as_slice() {
            ["CREATE", "TABLE", name, ..] => {
                let body = &stmt[stmt.find('(').unwrap() + 1..stmt.rfind(')').unwrap()];
                let columns = body
                    .lines()
                    .filter_map(|l| l.split_whitespace().next())
                    .map(|c| c.trim_matches('"').to_string())
                    .filter(|c| !c.is_empty())
                    .collect();
                out.insert(format!("table {name}"), columns);
            }
            ["CREATE", "INDEX", name, "ON", table, ..] | ["CREATE", "UNIQUE", "INDEX", name, "ON", table, ..] => {
                let cols = &stmt[stmt.find('(').unwrap() + 1..stmt.rfind(')').unwrap()];
                let mut v = vec![table.to_string()];
                v.extend(cols.split(',').map(|c| c.trim().to_string()));
                out.insert(format!("index {name}"), v);
            }
            [] => {}
            // How one backend stores or checks what both have: a column's
            // collation, a constraint, a trigger and its function
            // (PostgreSQL's 0700).
            ["ALTER", "TABLE", _, "ALTER", "COLUMN", ..]
            | ["ALTER", "TABLE", _, "DROP", "CONSTRAINT", ..]
            | ["CREATE", "FUNCTION" | "TRIGGER", ..] => {}
            // Other statements (ALTER TABLE ... ADD COLUMN, DROP ...): their
            // leading words, which name the objects and not the types.
            other => {
                let key = other.iter().take(6).copied().collect::<Vec<_>>().join(" ");
                out.insert(format!("statement {key}"), Vec::new());
            }
        }
    }
    out
}

fn migrations(dir: &str) -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(p).unwrap(),
            )
        })
        .collect()
}

/// Statements of one backend's migration only, and why.
const ONE_BACKEND_ONLY: &[(&str, &str, &str)] = &[
    (
        "0700_report_import_cost.sql",
        "statement DROP INDEX report_rollup_period",
        "PostgreSQL: the index cost the import a third of its rollup time, and PostgreSQL hashes the \
         per-day GROUP BY; SQLite sorts without it",
    ),
    (
        "0700_report_import_cost.sql",
        "statement SELECT 1",
        "SQLite's 0700 changes nothing",
    ),
];

#[test]
fn sqlite_and_postgres_migrations_have_the_same_files_tables_columns_and_indexes() {
    let sqlite = migrations("sqlite");
    let postgres = migrations("postgres");
    let names = |m: &[(String, String)]| m.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&sqlite),
        names(&postgres),
        "the two migration directories must list the same files"
    );
    for ((name, lite), (_, pg)) in sqlite.iter().zip(&postgres) {
        let (mut lite, mut pg) = (logical_schema(lite), logical_schema(pg));
        assert!(
            !lite.is_empty() || name.contains("noop"),
            "{name}: no statement understood"
        );
        for (file, statement, _why) in ONE_BACKEND_ONLY {
            if file == name {
                assert!(
                    lite.remove(*statement).is_some() || pg.remove(*statement).is_some(),
                    "{name}: {statement} is in neither file"
                );
            }
        }
        assert_eq!(lite, pg, "{name}: the logical schemas differ");
    }
}

#[test]
fn the_schema_reader_sees_a_missing_column() {
    let a = logical_schema("CREATE TABLE t (\n a TEXT,\n b TEXT\n);");
    let b = logical_schema("CREATE TABLE t (\n a TEXT\n);");
    assert_ne!(a, b);
    assert_eq!(a["table t"], ["a", "b"]);
}

#[test]
fn the_schema_reader_ignores_collations_triggers_and_constraints_but_not_columns() {
    let plain = logical_schema("CREATE TABLE t (\n a TEXT\n);\nDROP INDEX i;");
    let physical = logical_schema(
        "CREATE TABLE t (\n a TEXT\n);\nDROP INDEX i;\nALTER TABLE t ALTER COLUMN a TYPE TEXT COLLATE \"C\";\n\
         ALTER TABLE t DROP CONSTRAINT t_fkey;\nCREATE FUNCTION f() RETURNS trigger AS $$ BEGIN DELETE FROM t; \
         RETURN NULL; END; $$;\nCREATE TRIGGER g AFTER DELETE ON t EXECUTE FUNCTION f();",
    );
    assert_eq!(plain, physical);
    let added = logical_schema("CREATE TABLE t (\n a TEXT\n);\nDROP INDEX i;\nALTER TABLE t ADD COLUMN b TEXT;");
    assert_ne!(plain, added);
}

/// The live databases agree too: table and column names as each backend
/// reports them after migrating.
#[tokio::test]
async fn migrated_databases_report_the_same_tables_and_columns() {
    let mut seen = Vec::new();
    for db in common::stores().await {
        let rows: Vec<(String, String)> = match db.store.backend() {
            mailwarden_store::Backend::Sqlite => sqlx::query_as(
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx_%'
                 ORDER BY m.name, p.cid",
            ),
            mailwarden_store::Backend::Postgres => sqlx::query_as(
                "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx\\_%'
                 ORDER BY table_name, ordinal_position",
            ),
        }
        .fetch_all(db.store.pool())
        .await
        .unwrap();
        assert!(rows.iter().any(|(t, c)| t == "audit_events" && c == "seq"));
        seen.push(rows);
    }
    if let [lite, pg] = seen.as_slice() {
        assert_eq!(lite, pg);
    }
}
