//! The scheduler: queue, filter/score plugins, binding. Not built yet: see the open scheduler issue.
