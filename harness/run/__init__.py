"""Running: a spec resolved (:mod:`.runner`), executed in this process or a pool / cluster
(:mod:`.executors`), suites of specs (:mod:`.suite`), the parameters the theory chooses and the facts
it checks (:mod:`.checking`), the store (:mod:`.store`), per-run metrics and the machine manifest."""
