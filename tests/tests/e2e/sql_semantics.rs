//! SQL semantics: the `.slt` files under `tests/slt/`.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files_pass_over_hot_and_cold() {
    let dir = flarego_tests::repo_root().join("tests/slt");
    let n = flarego_tests::slt::run_dir(&dir).await.unwrap();
    assert!(n >= 3, "ran {n} slt files");
}

/// `GROUP BY frames` is planned as `GROUP BY stack_id` with frames looked
/// up per group, not per row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_by_frames_is_planned_on_stack_id() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = flarego_tests::slt::fixture_engine(tmp.path())
        .await
        .unwrap();
    let q = flarego_query::QueryEngine::new(engine, Default::default()).unwrap();
    let out = q
        .sql(
            None,
            "EXPLAIN SELECT frames, sum(value) FROM profiles WHERE service = 'api' GROUP BY frames",
        )
        .await
        .unwrap();
    let v = flarego_query::output::to_json(&out).unwrap();
    let logical = v["rows"][0][1].as_str().unwrap().to_string();
    assert!(
        logical.contains("groupBy=[[profiles.stack_id]]"),
        "{logical}"
    );
    assert!(
        logical.contains("frames_of(profiles.stack_id)"),
        "{logical}"
    );
}
