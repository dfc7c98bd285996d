use genserver_runtime::testing;

#[testing::test]
fn not_async() {}

#[testing::test(flavor = "multi_thread")]
async fn with_arguments() {}

fn main() {}
