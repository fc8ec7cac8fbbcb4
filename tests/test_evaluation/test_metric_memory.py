"""MultiTaskMetric's memory does not grow with the number of images."""
import pickle

from test_distributed import CFG, META, samples

from mmmtcp.evaluation import MultiTaskMetric


def test_state_size_is_independent_of_image_count():
    metric = MultiTaskMetric(**CFG)
    metric.dataset_meta = META
    data = [s.to_dict() for s in samples()]
    sizes = []
    for _ in range(3):
        metric.process(None, data)
        sizes.append(len(pickle.dumps(metric.results)))
    assert sizes[0] == sizes[1] == sizes[2]
    # 15 images processed, the sums count every one of them
    acc, last, count = metric.results
    assert count == 15

    once = MultiTaskMetric(**CFG)
    once.dataset_meta = META
    once.process(None, data)
    single = once.evaluate(len(data))
    tripled = metric.evaluate(3 * len(data))
    for key, value in single.items():
        # the same images three times give the same data-set metrics
        assert abs(value - tripled[key]) < 1e-6 * max(1.0, abs(value)), key
