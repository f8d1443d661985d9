"""read_metrics reads back what Lightning's CSVLogger writes where metrics_logger_args puts it."""
import json

from lightning.pytorch.loggers import CSVLogger

from lightning_modules.reporting.run_metrics import metrics_logger_args, read_metrics


def test_read_metrics_reads_what_the_csv_logger_writes(tmp_path):
    option, value = metrics_logger_args(str(tmp_path))
    tensorboard, csv = json.loads(value)
    assert option == "--trainer.logger" and tensorboard["class_path"].endswith("TensorBoardLogger")
    logger = CSVLogger(**csv["init_args"])
    logger.log_metrics({"train/loss": 2.0, "train/sequences_per_s": 10.0}, step=0)
    logger.log_metrics({"train/loss": 1.5}, step=1)
    logger.log_metrics({"test/f1": 0.5}, step=1)
    logger.finalize("success")
    assert read_metrics(str(tmp_path)) == {"train/loss": [(0, 2.0), (1, 1.5)], "train/sequences_per_s": [(0, 10.0)],
                                           "test/f1": [(1, 0.5)]}


def test_a_run_that_logged_nothing_has_no_metrics(tmp_path):
    assert read_metrics(str(tmp_path)) == {}
