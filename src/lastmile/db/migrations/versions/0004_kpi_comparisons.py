"""baseline vs pilot comparisons (issue 7)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 21:40:33
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lastmile.db.base

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kpi_comparisons',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('baseline', sa.JSON(), nullable=False),
    sa.Column('pilot', sa.JSON(), nullable=False),
    sa.Column('objectives', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', lastmile.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_kpi_comparisons_org_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_comparisons'))
    )
    with op.batch_alter_table('kpi_comparisons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kpi_comparisons_org_id'), ['org_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('kpi_comparisons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kpi_comparisons_org_id'))

    op.drop_table('kpi_comparisons')
