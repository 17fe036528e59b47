import pytest

import triggerkit


@pytest.fixture
def sdk(platform, live_project):
    triggerkit.configure(live_project.dev, platform.url, retry_min_delay=0.05)
    yield live_project
    triggerkit.configure()
