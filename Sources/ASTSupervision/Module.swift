/// Pure supervision core: child specs and the restart policy (see RestartPolicy.swift).
