/// ASTPaperBroker: the simulated exchange behind ast-broker@paper. Being built in M4.
enum ASTPaperBrokerModule {}
