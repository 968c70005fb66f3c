"""Fixtures of the metrics tests: one local Spark session for the whole test session."""

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """A local Spark session on one core, built before the engine asks for one.

    `spark_engine` takes the active session (`SparkSession.builder.getOrCreate()`), so
    building it here decides how it runs. The data are a few thousand rows: planning and
    scheduling cost more than computing, hence one shuffle partition, broadcast joins, no
    adaptive re-planning and no code generation (each new query shape would compile Java
    code), and the JIT's first tier only. Its catalog's tables (`--output table:...`) go to
    a warehouse directory of the test session. Starting it takes ~10-20 s, once.
    """
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("homeroom-tests")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.sql.autoBroadcastJoinThreshold", "1g")
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("warehouse")))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
