//! `#[log_activity]` on methods: `&self`, `&mut self`, `self`,
//! `self: Arc<Self>`, sync and async, with ids and loggers taken from `self`.

use activity_log::{log_activity, Activity, ActivityLogger, Outcome};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
struct Agent {
    id: u32,
    name: String,
    status: String,
}

#[derive(Debug, PartialEq)]
struct NoSuchAgent(u32);

impl std::fmt::Display for NoSuchAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "agent {} does not exist", self.0)
    }
}

#[derive(Default)]
struct AgentCrud {
    agents: BTreeMap<u32, Agent>,
}

impl AgentCrud {
    #[log_activity(type = "agent_created", target = "agent", id = ret.id, name = ret.name)]
    fn create(&mut self, name: &str) -> Agent {
        let id = self.agents.len() as u32 + 1;
        let agent = Agent { id, name: name.to_owned(), status: "offline".into() };
        self.agents.insert(id, agent.clone());
        agent
    }

    #[log_activity(type = "agent_viewed", target = "agent", id = id)]
    fn get(&self, id: u32) -> Result<&Agent, NoSuchAgent> {
        self.agents.get(&id).ok_or(NoSuchAgent(id))
    }

    #[log_activity(type = "agent_status_changed", target = "agent", id = id, metadata(status = new_status))]
    async fn set_status(&mut self, id: u32, new_status: String) -> Result<&mut Agent, NoSuchAgent> {
        tokio::task::yield_now().await;
        let agent = self.agents.get_mut(&id).ok_or(NoSuchAgent(id))?;
        agent.status = new_status;
        Ok(agent)
    }

    #[log_activity(type = "agents_exported", metadata(count = self.agents.len()))]
    fn into_names(self) -> Vec<String> {
        self.agents.into_values().map(|a| a.name).collect()
    }
}

struct Service {
    id: &'static str,
    logger: ActivityLogger,
}

impl Service {
    #[log_activity(type = "service_pinged", target = "service", id = self.id, logger = self.logger)]
    async fn ping(self: Arc<Self>) -> &'static str {
        tokio::task::yield_now().await;
        self.id
    }

    #[log_activity(type = "service_stopped", target = "service", id = self.id, logger = self.logger)]
    fn stop(self: Arc<Self>) -> usize {
        Arc::strong_count(&self)
    }
}

fn target_id(a: &Activity) -> Option<&str> {
    a.target.as_ref().and_then(|t| t.id.as_deref())
}

#[tokio::test]
async fn ref_mut_and_value_receivers() {
    let (logger, sink) = ActivityLogger::in_memory();
    let names = logger
        .scope(async {
            let mut crud = AgentCrud::default();
            let ada = crud.create("Ada");
            assert_eq!(crud.get(ada.id).unwrap().name, "Ada");
            assert_eq!(crud.get(9), Err(NoSuchAgent(9)));
            assert_eq!(crud.set_status(ada.id, "available".into()).await.unwrap().status, "available");
            assert!(crud.set_status(9, "away".into()).await.is_err());
            crud.into_names()
        })
        .await;
    assert_eq!(names, ["Ada"]);
    logger.flush().await.unwrap();
    let all = sink.activities();
    let got: Vec<_> = all.iter().map(|a| (a.activity_type.as_str(), a.outcome, target_id(a))).collect();
    assert_eq!(
        got,
        [
            ("agent_created", Outcome::Success, Some("1")),
            ("agent_viewed", Outcome::Success, Some("1")),
            ("agent_viewed", Outcome::Failure, Some("9")),
            ("agent_status_changed", Outcome::Success, Some("1")),
            ("agent_status_changed", Outcome::Failure, Some("9")),
            ("agents_exported", Outcome::Success, None),
        ]
    );
    assert_eq!(all[0].target.as_ref().and_then(|t| t.name.as_deref()), Some("Ada"));
    assert_eq!(all[2].error.as_deref(), Some("agent 9 does not exist"));
    assert_eq!(all[3].metadata["status"], "available");
    assert_eq!(all[5].metadata["count"], 1);
    assert!(all.iter().all(|a| a.duration.unwrap() > std::time::Duration::ZERO));
}

#[tokio::test]
async fn arc_self_receivers_and_a_logger_taken_from_self() {
    let (logger, sink) = ActivityLogger::in_memory();
    let service = Arc::new(Service { id: "billing", logger: logger.clone() });
    assert_eq!(service.clone().ping().await, "billing");
    assert_eq!(service.stop(), 1);
    logger.flush().await.unwrap();
    let all = sink.activities();
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].activity_type.as_str(), target_id(&all[0])), ("service_pinged", Some("billing")));
    assert_eq!((all[1].activity_type.as_str(), target_id(&all[1])), ("service_stopped", Some("billing")));
}
