//! The flow a backend is handed to store, and the checks it passes first.

use std::collections::HashMap;

use crate::Error;
use crate::backend::NewJob;

/// A flow to insert: its name and steps, as `kiribi::Flow` builds it and
/// [`Storage::enqueue_flow`](crate::Storage::enqueue_flow) receives it.
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::{NewFlow, NewFlowStep, NewJob};
///
/// let job = |name: &str| NewJob::new(name, serde_json::json!({}));
/// let flow = NewFlow::new("onboard user 7")
///     .with_step(NewFlowStep::new("welcome", job("send_welcome")).with_depends_on(["fetch"]))
///     .with_step(NewFlowStep::new("fetch", job("fetch_user")));
/// let plan = flow.plan().unwrap();
/// // Dependencies come first: `fetch`, then `welcome`, which waits for position 0.
/// assert_eq!(plan[0].step.name, "fetch");
/// assert_eq!(plan[1].depends_on, [0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewFlow {
    /// The flow's name (not unique).
    pub name: String,
    /// Its steps, in the order they were declared.
    pub steps: Vec<NewFlowStep>,
}

/// One step of a [`NewFlow`]: a name unique within the flow, its job, and the
/// names of the steps it waits for.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewFlowStep {
    /// The step's name.
    pub name: String,
    /// Its job.
    pub job: NewJob,
    /// The steps it waits for, by name.
    pub depends_on: Vec<String>,
}

impl NewFlowStep {
    /// A step without dependencies.
    pub fn new(name: impl Into<String>, job: NewJob) -> Self {
        Self {
            name: name.into(),
            job,
            depends_on: Vec::new(),
        }
    }

    /// Makes it wait for the steps named `steps` too.
    #[must_use]
    pub fn with_depends_on<S: Into<String>>(mut self, steps: impl IntoIterator<Item = S>) -> Self {
        self.depends_on.extend(steps.into_iter().map(Into::into));
        self
    }
}

/// One step of a checked flow, in insertion order (see [`NewFlow::plan`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PlannedStep<'a> {
    /// The step.
    pub step: &'a NewFlowStep,
    /// The positions, in the plan, of the steps it waits for: all before its own.
    pub depends_on: Vec<usize>,
}

impl NewFlow {
    /// A flow named `name`, with no steps yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            steps: Vec::new(),
        }
    }

    /// Adds a step.
    #[must_use]
    pub fn with_step(mut self, step: NewFlowStep) -> Self {
        self.steps.push(step);
        self
    }

    /// Checks the flow and orders its steps so that every step comes after the
    /// steps it waits for (declaration order otherwise): the order a backend
    /// inserts them in, so that a dependency's id is below its dependents'.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidFlow`], saying what is wrong and what to do, for a flow
    /// without steps, an empty or duplicate step name, a dependency listed twice,
    /// on the step itself or on a step the flow does not have, a cycle, or a step
    /// whose job has a unique key (a step cannot be deduplicated away).
    pub fn plan(&self) -> Result<Vec<PlannedStep<'_>>, Error> {
        let invalid = |reason: String| Error::InvalidFlow {
            flow: self.name.clone(),
            reason,
        };
        if self.steps.is_empty() {
            return Err(invalid(
                "it has no steps: add at least one with `.step(name, job)`".to_owned(),
            ));
        }
        let mut index = HashMap::with_capacity(self.steps.len());
        for (at, step) in self.steps.iter().enumerate() {
            if step.name.is_empty() {
                return Err(invalid(format!(
                    "step {} has an empty name: give every step a name",
                    at + 1
                )));
            }
            if index.insert(step.name.as_str(), at).is_some() {
                return Err(invalid(format!(
                    "two steps are named `{}`: step names must be unique within a flow; \
                     rename one of them",
                    step.name
                )));
            }
            if step.job.unique.is_some() {
                return Err(invalid(format!(
                    "step `{}` is a unique job (`{}`), and a flow step cannot be \
                     deduplicated away: enqueue it without a unique key",
                    step.name, step.job.name
                )));
            }
        }
        let mut depends: Vec<Vec<usize>> = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let mut on = Vec::with_capacity(step.depends_on.len());
            for dep in &step.depends_on {
                let Some(&at) = index.get(dep.as_str()) else {
                    return Err(invalid(format!(
                        "step `{}` depends on `{dep}`, which is not a step of this flow: \
                         add a step `{dep}` or fix the name (steps: {})",
                        step.name,
                        self.step_names()
                    )));
                };
                if dep == &step.name {
                    return Err(invalid(format!(
                        "step `{}` depends on itself: remove `{dep}` from its dependencies",
                        step.name
                    )));
                }
                if on.contains(&at) {
                    return Err(invalid(format!(
                        "step `{}` lists dependency `{dep}` twice: list it once",
                        step.name
                    )));
                }
                on.push(at);
            }
            depends.push(on);
        }
        let order = self.topological(&depends).map_err(|cycle| {
            invalid(format!(
                "steps {} form a cycle, so none of them could ever start: remove one of \
                 these dependencies",
                cycle
                    .iter()
                    .map(|&at| format!("`{}`", self.steps[at].name))
                    .collect::<Vec<_>>()
                    .join(" → ")
            ))
        })?;
        let mut position = vec![0; self.steps.len()];
        for (pos, &at) in order.iter().enumerate() {
            position[at] = pos;
        }
        Ok(order
            .iter()
            .map(|&at| PlannedStep {
                step: &self.steps[at],
                depends_on: depends[at].iter().map(|&dep| position[dep]).collect(),
            })
            .collect())
    }

    /// Declaration order, but every step after its dependencies (Kahn's algorithm,
    /// taking the earliest declared ready step first); a cycle when some steps can
    /// never come.
    fn topological(&self, depends: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
        let count = self.steps.len();
        let mut waiting: Vec<usize> = depends.iter().map(Vec::len).collect();
        let mut dependents = vec![Vec::new(); count];
        for (at, on) in depends.iter().enumerate() {
            for &dep in on {
                dependents[dep].push(at);
            }
        }
        let mut ready: std::collections::BTreeSet<usize> =
            (0..count).filter(|&at| waiting[at] == 0).collect();
        let mut order = Vec::with_capacity(count);
        while let Some(at) = ready.pop_first() {
            order.push(at);
            for &next in &dependents[at] {
                waiting[next] -= 1;
                if waiting[next] == 0 {
                    ready.insert(next);
                }
            }
        }
        if order.len() == count {
            return Ok(order);
        }
        // Walk back along dependencies among the steps left until one repeats.
        let start = (0..count)
            .find(|&at| waiting[at] > 0)
            .expect("a step is left");
        let mut path = vec![start];
        let mut at = start;
        loop {
            at = *depends[at]
                .iter()
                .find(|&&dep| waiting[dep] > 0)
                .expect("a step left waits for another step left");
            if let Some(from) = path.iter().position(|&seen| seen == at) {
                // Dependencies first, from the earliest declared step.
                let mut cycle: Vec<usize> = path[from..].to_vec();
                cycle.reverse();
                let first = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
                cycle.rotate_left(first);
                cycle.push(cycle[0]);
                return Err(cycle);
            }
            path.push(at);
        }
    }

    fn step_names(&self) -> String {
        self.steps
            .iter()
            .map(|step| format!("`{}`", step.name))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, on: &[&str]) -> NewFlowStep {
        NewFlowStep::new(name, NewJob::new("j", serde_json::json!({})))
            .with_depends_on(on.iter().copied())
    }

    fn reason(flow: NewFlow) -> String {
        flow.plan().unwrap_err().to_string()
    }

    #[test]
    fn a_plan_puts_dependencies_first_and_keeps_declaration_order() {
        let flow = NewFlow::new("f")
            .with_step(step("report", &["welcome", "crm"]))
            .with_step(step("welcome", &["fetch"]))
            .with_step(step("fetch", &[]))
            .with_step(step("crm", &["fetch"]));
        let plan = flow.plan().unwrap();
        let names: Vec<&str> = plan.iter().map(|p| p.step.name.as_str()).collect();
        assert_eq!(names, ["fetch", "welcome", "crm", "report"]);
        assert_eq!(plan[3].depends_on, [1, 2]);
    }

    #[test]
    fn bad_flows_say_what_is_wrong() {
        assert!(reason(NewFlow::new("f")).contains("no steps"));
        let twice = NewFlow::new("f")
            .with_step(step("a", &[]))
            .with_step(step("a", &[]));
        assert!(reason(twice).contains("two steps are named `a`"));
        let unknown = NewFlow::new("f").with_step(step("a", &["b"]));
        let text = reason(unknown);
        assert!(
            text.contains("`b`, which is not a step") && text.contains("steps: `a`"),
            "{text}"
        );
        let own = NewFlow::new("f").with_step(step("a", &["a"]));
        assert!(reason(own).contains("depends on itself"));
        let cycle = NewFlow::new("f")
            .with_step(step("a", &["c"]))
            .with_step(step("b", &["a"]))
            .with_step(step("c", &["b"]))
            .with_step(step("d", &[]));
        let text = reason(cycle);
        assert!(
            text.contains("form a cycle") && text.contains("`a` → `b` → `c` → `a`"),
            "{text}"
        );
    }
}
