/// Process shell: spawning, reaping and the manager side of sd_notify.
