//! `starsgate sim`: the Telegram simulator alone.

use std::net::SocketAddr;

use super::Failure;
use starsgate_sim::Simulator;

pub async fn sim(listen: SocketAddr, bots: &[String]) -> Result<(), Failure> {
    crate::telemetry::init("info");
    let sim = Simulator::start(listen)
        .await
        .map_err(|e| Failure(format!("--listen {listen}: {e}")))?;
    for spec in bots {
        let (token, username) = spec.split_once('=').unwrap_or((spec.as_str(), "store_bot"));
        crate::config::BotToken::parse(token).map_err(|e| Failure(format!("--bot: {e}")))?;
        let info = sim.add_bot(token, username);
        println!("bot @{} (id {}) registered", info.username, info.id);
    }
    println!("Telegram simulator on {}", sim.api_url());
    println!(
        "Point a gateway at it with telegram.api_url = \"{}\"",
        sim.api_url()
    );
    println!(
        "Play a buyer: curl -X POST {}sim/send -H 'content-type: application/json' \\",
        sim.api_url()
    );
    println!("  -d '{{\"token\":\"TOKEN\",\"user_id\":1001,\"text\":\"/start\"}}'");
    super::run::shutdown_signal().await;
    sim.shutdown().await;
    Ok(())
}
