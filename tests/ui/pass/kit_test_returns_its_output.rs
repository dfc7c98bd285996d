use genserver_runtime::testing;

// A kit test may return a `Result`, as a `#[test]` may.
#[testing::test]
async fn returns_a_result() -> Result<(), String> {
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    Ok(())
}

fn main() {}
