/// The risk gate and Safe Mode (pure core).
