//! Durability: the service killed with SIGKILL in the middle of writes, then
//! started again, has every order and reservation it acknowledged, and its
//! ledger balances.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use omnistock::access::Role;
use serde_json::{Value, json};

use crate::helpers::{TEST_SECRET_KEY, TestApp};

crate::backend_tests!(a_killed_service_keeps_every_acknowledged_write);

/// The service binary serving `app`'s database from a process of its own.
struct Process {
    child: Child,
    base: String,
}

impl Process {
    async fn start(app: &TestApp) -> Process {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_omnistock"))
            .arg("serve")
            .env("DATABASE_URL", &app.database_url)
            .env("OMNISTOCK_ADDR", format!("127.0.0.1:{port}"))
            .env("OMNISTOCK_SECRET_KEY", TEST_SECRET_KEY)
            .env("OMNISTOCK_JOBS__ENABLED", "false")
            .env("OMNISTOCK_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run omnistock serve");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !app.client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            assert!(Instant::now() < deadline, "the service did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Process { child, base }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes until the service stops answering; returns what it acknowledged,
/// as (collection, id).
async fn write_until_it_dies(client: reqwest::Client, base: String, key: String, sales: bool) -> Vec<(String, String)> {
    let (path, collection, body) = if sales {
        let payment = json!({"reference": "till", "amount": {"amount": "1.00", "currency": "EUR"}});
        ("/v1/pos/sales", "orders", json!({"items": [{"sku": "CRASH", "quantity": 1}], "payment": payment}))
    } else {
        let lines = json!([{"sku": "CRASH", "quantity": 1}]);
        ("/v1/reservations", "reservations", json!({"location": "S1", "purpose": "order", "lines": lines}))
    };
    let mut acknowledged = Vec::new();
    loop {
        let sent = client
            .post(format!("{base}{path}"))
            .bearer_auth(&key)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(&body)
            .send()
            .await;
        let Ok(response) = sent else { return acknowledged };
        let status = response.status().as_u16();
        let Ok(answer) = response.json::<Value>().await else { return acknowledged };
        if status == 201 {
            acknowledged.push((collection.to_owned(), answer["id"].as_str().unwrap().to_owned()));
        }
    }
}

async fn a_killed_service_keeps_every_acknowledged_write(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("CRASH", "1.00").await;
    app.receive("S1", "CRASH", 100_000).await;
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    let staff = app.key(Role::Staff, Some("S1"), None).await;
    let mut service = Process::start(&app).await;
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let key = if i % 2 == 0 { pos.clone() } else { staff.clone() };
            tokio::spawn(write_until_it_dies(app.client.clone(), service.base.clone(), key, i % 2 == 0))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    service.child.kill().expect("SIGKILL the service");
    let _ = service.child.wait();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(acknowledged.len() >= 20, "writes were under way when it died: {}", acknowledged.len());
    assert!(acknowledged.iter().any(|(c, _)| c == "orders") && acknowledged.iter().any(|(c, _)| c == "reservations"));

    let service = Process::start(&app).await;
    for (collection, id) in &acknowledged {
        let found =
            app.client.get(format!("{}/v1/{collection}/{id}", service.base)).bearer_auth(&app.admin).send().await;
        assert_eq!(found.unwrap().status(), 200, "acknowledged, then lost: {collection} {id}");
    }
    let checked = app.cli(&["check-ledger"]);
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stdout));
}
