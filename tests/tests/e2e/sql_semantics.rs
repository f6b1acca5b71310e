//! SQL semantics: the `.slt` files under `tests/slt/`.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files_pass_over_hot_and_cold() {
    let dir = flarego_tests::repo_root().join("tests/slt");
    let n = flarego_tests::slt::run_dir(&dir).await.unwrap();
    assert!(n >= 3, "ran {n} slt files");
}
