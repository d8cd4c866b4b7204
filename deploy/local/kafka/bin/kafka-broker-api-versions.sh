#!/bin/bash
# As apache/kafka's kafka-broker-api-versions.sh: the tool's main class on the broker's jars, warnings on stderr.
exec java -Xmx256m -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties -cp '/opt/kafka/libs/*' org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
