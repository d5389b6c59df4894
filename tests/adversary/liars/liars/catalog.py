from harness.api import Param, PluginSpec

E = Param("eta", 0.01, "float", low=0.0, open_low=True, theory=True)
B = Param("b", 1, "int", low=1)
PLUGINS = [
    # sim backend ASGD that reads 20 updates staler than it reports, except on the check-plugin probe
    PluginSpec("liar-stale", "asgd", "sim", "liars.algo:stale", params=(E, B), theorems=("minibatch.thm-4",),
               min_workers=1, max_workers=8, deterministic=True),
    # same, but on the mpi backend name (no delay audit at all) -- implemented in-process
    PluginSpec("liar-stale-mpi", "asgd", "mpi", "liars.algo:stale_always", params=(E, B), theorems=("minibatch.thm-4",),
               min_workers=1, max_workers=8, deterministic=True),
    # SGD applying 3x the step it reports, except on the probe
    PluginSpec("liar-step", "sgd", "sim", "liars.algo:step3", params=(E, B), theorems=("minibatch.lem-1",),
               deterministic=True),
    # SVRG running 10x m, reporting samples that agree with the reported m
    PluginSpec("liar-svrg", "svrg", "serial", "liars.algo:svrg", params=(E, B, Param("m", 20, "int", low=1)),
               theorems=("asysvrg.thm-2.4.1",), deterministic=True),
    # applied() with odd types
    # SVRG running 10x m with honest samples, reporting warm_epochs=1 besides
    PluginSpec("liar-svrg-warm", "svrg", "serial", "liars.algo:svrg_warm", params=(E, B, Param("m", 20, "int", low=1)),
               theorems=("asysvrg.thm-2.4.1",), deterministic=True),
    # momentum judged by SGD's lemma through covers
    PluginSpec("liar-heavy-ball", "heavy_ball", "serial", "liars.algo:heavy_ball", params=(E, B),
               theorems=("minibatch.lem-1",), covers=("minibatch.lem-1",), deterministic=True),
    # 3 eta on every third update: the median step is the reported one
    PluginSpec("liar-step-sometimes", "sgd", "serial", "liars.algo:step3_sometimes", params=(E, B),
               theorems=("minibatch.lem-1",), deterministic=True),
    # 3 eta on the last 15% of the budget: check-plugin's short audit run observes it all
    PluginSpec("liar-step-late", "sgd", "serial", "liars.algo:step3_late", params=(E, B),
               theorems=("minibatch.lem-1",), deterministic=True),
    # 3 eta in every chunk longer than one update: honest exactly while observed
    PluginSpec("liar-step-unobserved", "sgd", "serial", "liars.algo:step3_unobserved", params=(E, B),
               theorems=("minibatch.lem-1",), deterministic=True),
    # reports b, draws b samples for 8 updates, then one
    PluginSpec("liar-b-later", "sgd", "serial", "liars.algo:b1_after_8", params=(E, Param("b", 4, "int", low=1)),
               theorems=("minibatch.lem-1",), deterministic=True),
    # declared SVRG (reports eta, b, m), runs plain SGD at 3 eta
    PluginSpec("liar-sgd-as-svrg", "svrg", "serial", "liars.algo:sgd_as_svrg", params=(E, B, Param("m", 20, "int", low=1)),
               theorems=("asysvrg.thm-2.4.1",), deterministic=True),
    PluginSpec("liar-types", "sgd", "serial", "liars.algo:types",
               params=(E, B, Param("how", "bool", "choice", choices=("bool", "list", "nan", "info", "ret", "none", "inf", "extra"))),
               theorems=("minibatch.lem-1",), deterministic=True),
]
